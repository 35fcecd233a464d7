"""The measurements, one job each, each run in a fresh Python process (`run_job`), watched so that it
cannot pass the memory limit. A job reads its parameters (a dict: sizes, paths, settings it needs) from
a JSON file and writes its result as JSON; `python -m eval.scale --worker JOB PARAMS RESULT` runs one."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from eval.scale.corpora import RecombinedTokens, dense_corpus
from eval.scale.measure import K, disk_mb, latency, memory, recall_at, thread_variants

REPO = Path(__file__).resolve().parents[2]
WORKER_MODULE = "eval.scale"  # run as `python -m eval.scale --worker ...` (eval/scale/__main__.py)
NPROBES = (8, 16, 24, 32, 48, 64, 128)
EF_SEARCHES = (16, 32, 48, 64, 96, 128, 256)


def _load(data: Path, name: str) -> np.ndarray:
    return np.load(data / name)


def job_dense_build(p: dict) -> dict:
    import faiss

    from tracuu.core import dense

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

    from tracuu.core import dense

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
        dense.set_search_threads(1)
        for value in values:
            dense.set_search_params(index, nprobe=value, ef_search=value)
            timing = latency(lambda q: index.search(q, K), singles, 1)
            scores, rows = index.search(queries, K)
            result["sweep"].append({"nprobe" if kind == "ivf" else "efSearch": value, "p50_ms": timing["p50_ms"],
                                    "p95_ms": timing["p95_ms"],
                                    "recall@10": round(recall_at(rows, exact, exact_scores), 4)})
    return result


def job_exact_sweep(p: dict) -> dict:
    """Exact search (IndexFlatIP, what build_dense makes up to n_exact vectors) at each of p["sizes"]."""
    from tracuu.core import dense

    data = Path(p["data"])
    base, queries = _load(data, "base_vectors.npy"), _load(data, "query_vectors.npy")
    singles = [np.ascontiguousarray(q[None, :]) for q in queries[:p["latency_queries"]]]
    out = []
    for n in p["sizes"]:
        index = dense.build_dense(dense_corpus(base, n, p["sigma"]), n_exact=n)
        out.append({"n": n, **latency(lambda q: index.search(q, K), singles, p["repeats"], thread_variants())})
        index = None  # freed before the next size is built
    return {"sizes": out}


def job_lexical_build(p: dict) -> dict:
    """bm25s from token lists, as LexicalIndex.build does (vocabulary, token ids, score matrix), except
    that the token lists are generated while read instead of held: at 1M passages the product's two
    materialized lists (tokens, ids) would hold 2 × 8 bytes per token more (reported as an estimate)."""
    from tracuu.core.lexical import LexicalIndex

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
    vocab = LexicalIndex.vocabulary(corpus)
    vocab_s = time.perf_counter() - started - generate_s
    to_ids_s = passes(corpus, lambda doc: [vocab[t] for t in doc]) - generate_s
    ids = corpus.token_ids(vocab)
    ids_generate_s = passes(ids)
    started = time.perf_counter()
    index = LexicalIndex.from_token_ids(ids, vocab)  # reads the ids 3 times
    index_s = time.perf_counter() - started - 3 * ids_generate_s
    result = {"n": n, "tokens": tokens, "vocabulary": len(index.vocab), "generate_s": round(generate_s, 2),
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
    """Latency of a lexical search as a request makes it: the question's tokens (query_tokens, once per
    request), then LexicalIndex.search over them (the pruned exact top k), with bm25s's full scoring of
    every passage (search_bm25s, the former search) timed in interleaved passes; and how often the two
    agree with the reference (every passage scored, ranked by score, then row)."""
    from tracuu.core.lexical import LexicalIndex
    from tracuu.core.textnorm import query_tokens

    data, folder = Path(p["data"]), Path(p["folder"])
    questions = json.loads((data / "text.json").read_text(encoding="utf-8"))["questions"][:p["latency_queries"]]
    for q in questions[:20]:
        query_tokens(q)  # pyvi's model loads on first use: not part of the index
    result: dict = {"rss_before_mb": memory()}
    started = time.perf_counter()
    index = LexicalIndex.load(folder / "lexical")  # includes loading (or compiling) tracuu.core.topk
    result["load_s"] = round(time.perf_counter() - started, 3)
    result["rss_loaded_mb"] = memory()
    search = {"run": index.search}
    variants = {"": lambda: search.update(run=index.search), "full": lambda: search.update(run=index.search_bm25s)}
    result.update(latency(lambda q: search["run"](query_tokens(q), K), questions, p["repeats"], variants))
    result["tokenize_p50_ms"] = latency(query_tokens, questions, 1)["p50_ms"]
    result["cpu_p50_ms"] = cpu_p50(lambda q: index.search(query_tokens(q), K), questions)
    result["full_cpu_p50_ms"] = cpu_p50(lambda q: index.search_bm25s(query_tokens(q), K), questions)
    result["rss_searched_mb"] = memory()
    usable = [index.usable(query_tokens(q)) for q in questions]
    result["postings_per_query_median"] = int(np.median([int(index.posting_lengths(t).sum()) for t in usable]))
    result["agreement"] = lexical_agreement(index, usable)
    return result


def cpu_p50(run, items: list) -> float:
    """Median CPU milliseconds of this thread per run(item): on a shared machine, the latency without
    the time other processes hold the cores (their use of caches and memory still counts)."""
    times = []
    for item in items:
        started = time.thread_time()
        run(item)
        times.append((time.thread_time() - started) * 1000)
    return round(float(np.median(times)), 3)


def lexical_agreement(index, queries: list[list[str]], k: int = 10) -> dict:
    """Shares of queries whose top k from search equals the reference's (rows, order and float32 scores),
    and the former search's (rows and order; scores)."""
    exact = same_rows = same_scores = 0
    for tokens in queries:
        hits, former = index.search(tokens, k), index.search_bm25s(tokens, k)
        if tokens:
            scores = index.scores_from_ids(index.token_ids(tokens))
            top = np.lexsort((np.arange(len(scores)), -scores))[:k]
            top = top[scores[top] > 0]
        else:
            top, scores = np.array([], dtype=np.int64), np.array([], dtype=np.float32)
        exact += hits.rows.tolist() == top.tolist() and hits.scores.tobytes() == scores[top].astype(np.float32).tobytes()
        same_rows += hits.rows.tolist() == former.rows.tolist()
        same_scores += hits.scores.tobytes() == former.scores.tobytes()
    n = max(1, len(queries))
    return {"queries": len(queries), "k": k, "same_as_reference": round(exact / n, 4),
            "same_rows_as_full_scoring": round(same_rows / n, 4), "same_scores_as_full_scoring": round(same_scores / n, 4)}


def job_encoder_rss(p: dict) -> dict:
    from tracuu.core.encoders.torch_encoder import Encoder

    before = memory()
    encoder = Encoder(p["model"], Path(p["models_dir"]))
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
    proc = subprocess.Popen([sys.executable, "-m", WORKER_MODULE, "--worker", job, str(spec), str(result)], cwd=REPO)
    peak = 0.0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            rss = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024
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
