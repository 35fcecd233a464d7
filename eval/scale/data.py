"""The base data every size is made from: real passages, their vectors, their sentences' tokens, queries.

Written once into OUT/data by `prepare` (reused when present) and read by the jobs.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np

from eval.scale.corpora import noisy
from tracuu.settings import Settings


def real_passages(corpus_dir: Path, benchmarks: Path) -> list[str]:
    """Texts of the real passages as the indexer sees them, in a fixed shuffled order."""
    from indexer.build import embedding_text
    from indexer.documents import read_corpus
    from indexer.records import document_from_record

    documents, _ = read_corpus(corpus_dir)
    texts = [embedding_text(d.title, p.section, p.text) for d in documents for p in d.passages]
    for path in sorted(benchmarks.glob("*/corpus.jsonl")):
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


def benchmark_questions(benchmarks: Path, count: int) -> list[str]:
    """The first questions of each benchmark set, in turn, up to count."""
    sets = []
    for path in sorted(benchmarks.glob("*/queries.jsonl")):
        with path.open(encoding="utf-8") as handle:
            sets.append([json.loads(line)["text"] for line in handle][:count])
    questions = [q for group in zip(*sets) for q in group] if sets else []
    return list(dict.fromkeys(questions))[:count]


def embed_base(texts: list[str], settings: Settings, budget_s: float, log) -> tuple[np.ndarray, dict, np.ndarray]:
    """(real passage vectors, what they are, query vectors): the passages the embedding cache holds plus
    those the model embeds within budget_s, in the order of texts; the questions with the query prompt."""
    from indexer.embedding_cache import EmbeddingCache, text_key
    from tracuu.core.encoders.torch_encoder import Encoder

    encoder = Encoder(settings.model, settings.models_dir)
    cache = EmbeddingCache(settings.embedding_cache)
    keys = [text_key(encoder.prepare(t)) for t in texts]
    known = cache.get_many(encoder.vectors_id, keys)
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
        cache.put_many(encoder.vectors_id, new)
        known.update(new)
        embedded += len(chunk)
        log(f"embedded {embedded}/{len(missing)} ({time.perf_counter() - started:.0f} s)")
    rows = [i for i, key in enumerate(keys) if key in known]
    info = {"real_passages": len(texts), "from_cache": cached, "embedded": embedded,
            "embed_seconds": round(time.perf_counter() - started, 1), "base_vectors": len(rows),
            "model": encoder.model_id}
    questions = benchmark_questions(settings.benchmarks, 300)
    qkeys = [text_key(encoder.prepare(q)) for q in questions]
    qmodel = encoder.vectors_id + "|query"  # the query prompt makes other vectors than the passage prompt
    qknown = cache.get_many(qmodel, qkeys)
    todo = [i for i, key in enumerate(qkeys) if key not in qknown]
    if todo:
        fresh = encoder.encode_queries([questions[i] for i in todo])
        new = {qkeys[i]: fresh[j] for j, i in enumerate(todo)}
        cache.put_many(qmodel, new)
        qknown.update(new)
    cache.close()
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
    from indexer.passages import sentence_spans
    from indexer.token_cache import TokenCache

    ids: dict[str, int] = {}
    passages = []
    for text in texts:
        passages.append([ids.setdefault(text[a:b], len(ids)) for a, b in sentence_spans(text)] or [ids.setdefault(text, len(ids))])
    cache = TokenCache(cache_path)
    tokens = cache.tokenize(list(ids))
    cache.close()
    return tokens, passages


def prepare(data: Path, settings: Settings, synthetic: bool, budget_s: float, sigma: float, log) -> dict:
    """Write the base data into `data` (reused when present) and describe it."""
    info_path = data / "base.json"
    if info_path.exists() and json.loads(info_path.read_text(encoding="utf-8")).get("synthetic") == synthetic:
        info = json.loads(info_path.read_text(encoding="utf-8"))
        return {**info, "noise": noise_stats(np.load(data / "base_vectors.npy"), sigma)}
    data.mkdir(parents=True, exist_ok=True)
    if synthetic:
        from indexer.documents import read_corpus

        documents, _ = read_corpus(settings.corpus_dir)
        texts = [p.text for d in documents for p in d.passages]
        vectors, queries = synthetic_base()
        questions = [" ".join(texts[i % len(texts)].split()[:12]) for i in range(300)]
        info = {"synthetic": True, "real_passages": len(texts), "base_vectors": len(vectors)}
    else:
        texts = real_passages(settings.corpus_dir, settings.benchmarks)
        log(f"{len(texts)} real passages")
        vectors, info, queries = embed_base(texts, settings, budget_s, log)
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
