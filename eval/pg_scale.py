"""The PostgreSQL store at scale: build time, query latency and dense recall over 2 and 4 shards.

    python -m eval.pg_scale --sizes 100000 --shards 2 4 --data out/pg-scale/data --out out/pg-scale

The passages are eval.scale's (`python -m eval.scale` writes its base data into OUT/data: real vectors
and their noisy copies, real and recombined sentences as token lists). For each (size, shards) it starts
a fresh cluster with scripts/cluster (own folder and ports), publishes a version with the tables a build
writes (vectors, postings, terms; no answer units, no text: this measures retrieval), asks 200 real
questions one at a time through `PgReader` (k = 50 on each side, as the server does), and measures dense
recall@10 against exact search (faiss, flat inner product) over the same vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from eval.scale.corpora import RecombinedTokens, dense_corpus
from eval.scale.measure import recall_at
from indexer.pg.publish import begin, copy_terms, create_tables, finish, index_shard, shard_of_rows
from tracuu.core.hits import Hits
from tracuu.core.pg.schema import StoreUnavailable, connect, table_suffix
from tracuu.core.registry import Registry
from tracuu.core.textnorm import lexical_tokens

REPO = Path(__file__).resolve().parents[1]
K, RECALL_K, QUESTIONS = 50, 10, 200


def cluster(command: str, shards: int, port: int, *extra: str) -> str:
    env = {**os.environ, "TRACUU_CLUSTER_DIR": f"/tmp/tracuu-pg-scale-{shards}", "TRACUU_CLUSTER_PORT": str(port)}
    done = subprocess.run(["bash", str(REPO / "scripts" / "cluster"), command, *extra], env=env, capture_output=True,
                          text=True, check=True)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def load_shard(url: str, v: str, rows: np.ndarray, vectors: np.ndarray, tokens: RecombinedTokens, hnsw) -> dict:
    started = time.perf_counter()
    with connect(url, timeout_ms=None) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY passages_{v} (row, id, doc_id, paragraph, part, start, \"end\", text, kind, embedding) "
                      "FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "text", "text", "int4", "int4", "int4", "int4", "text", "text", "vector"])
            for row in rows.tolist():
                copy.write_row((row, f"p{row}", f"d{row // 10}", row % 10, 0, 0, 0, "", "body", vectors[row]))
        with cur.copy(f"COPY postings_{v} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "int4", "int4", "int4"])
            for row in rows.tolist():
                passage = tokens[row]
                for token, tf in Counter(passage).items():
                    copy.write_row((token, row, tf, len(passage)))
        loaded = time.perf_counter()
        index_shard(conn, v, len(rows), hnsw)
    return {"load_s": round(loaded - started, 1), "index_s": round(time.perf_counter() - loaded, 1)}


def publish_corpus(url: str, vectors: np.ndarray, tokens: RecombinedTokens, hnsw) -> dict:
    """The tables a build publishes, for n passages made by eval.scale; returns where the time went."""
    n = len(vectors)
    version = time.strftime("%Y%m%dT%H%M%S") + f"-scale{n}"
    v = table_suffix(version)
    started = time.perf_counter()
    with connect(url, timeout_ms=None) as coord:
        shards = begin(coord, url)
        create_tables(coord, shards, v, vectors.shape[1])
        owner = shard_of_rows(coord, f"passages_{v}", len(shards), n)
        user = coord.info.user
        with ThreadPoolExecutor(len(shards)) as pool:
            per_shard = list(pool.map(lambda s: load_shard(s.url(user), v, np.flatnonzero(owner == s.number - 1),
                                                           vectors, tokens, hnsw), shards))
        avgdl = copy_terms(coord, v, tokens)
        manifest = {"model": {"name": "scale", "id": "scale", "dimension": int(vectors.shape[1])}, "passages": n}
        finish(coord, shards, version, n, avgdl, manifest, Registry().to_json(), None)
    built = round(time.perf_counter() - started, 1)
    disk = 0
    for shard in shards:
        with connect(shard.url(user)) as conn:
            disk += conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return {"build_s": built, "shards_detail": per_shard, "disk_mb": round(disk / 2**20), "version": version}


def measure(url: str, vectors: np.ndarray, queries: np.ndarray, questions: list[str], tokens: RecombinedTokens,
            sides=("dense", "lexical")) -> dict:
    import faiss

    from tracuu.core.lexical import LexicalIndex

    from tracuu.core.pg.reader import PgReader

    reader = PgReader(url)
    token_lists = [lexical_tokens(q) for q in questions]
    out = {}
    runs = {"dense": lambda i: reader.dense.search(queries[i], K),
            "lexical": lambda i: reader.lexical.search(token_lists[i], K)}
    for side, run in ((side, runs[side]) for side in sides):
        for i in range(min(20, len(questions))):
            try:
                run(i)  # warm-up: caches, connections
            except StoreUnavailable:
                pass
        times, found, failed = [], [], 0
        for i in range(len(questions)):
            started = time.perf_counter()
            try:
                hits = run(i)
            except StoreUnavailable:  # the 4 s statement timeout: what a person would get is a 503
                failed += 1
                hits = Hits.empty()
            times.append((time.perf_counter() - started) * 1000)
            found.append(hits.rows[:RECALL_K])
        out[side] = {"p50_ms": round(float(np.percentile(times, 50)), 2), "p99_ms": round(float(np.percentile(times, 99)), 2),
                     "timeouts": failed}
        if side == "dense":
            exact = faiss.IndexFlatIP(vectors.shape[1])
            exact.add(vectors)
            scores, rows = exact.search(queries[:len(questions)], RECALL_K)
            padded = np.array([np.pad(f, (0, RECALL_K - len(f)), constant_values=-1) for f in found])
            out[side]["recall_at_10"] = round(recall_at(padded, rows, scores, RECALL_K), 4)
        else:  # against bm25s over the same token lists: the top 10 must be the same
            reference = LexicalIndex.build(tokens)
            same = sum(reference.search(t, RECALL_K).rows.tolist() == f.tolist() for t, f in zip(token_lists, found))
            out[side]["same_top10_as_bm25s"] = round(same / len(found), 4)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--shards", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--data", type=Path, default=Path("out/pg-scale/data"))
    parser.add_argument("--out", type=Path, default=Path("out/pg-scale"))
    parser.add_argument("--hnsw", choices=["auto", "always", "never"], default="auto",
                        help="auto: as a build (HNSW when a shard holds more than tracuu.core.dense.N_EXACT)")
    parser.add_argument("--port", type=int, default=56432)
    parser.add_argument("--sides", nargs="+", choices=["dense", "lexical"], default=["dense", "lexical"])
    parser.add_argument("--sigma", type=float, default=0.02)
    args = parser.parse_args(argv)
    hnsw = {"auto": None, "always": True, "never": False}[args.hnsw]
    base = np.load(args.data / "base_vectors.npy")
    queries = np.load(args.data / "query_vectors.npy")[:QUESTIONS]
    text = json.loads((args.data / "text.json").read_text(encoding="utf-8"))
    questions = text["questions"][:QUESTIONS]
    results = []
    for n in args.sizes:
        vectors = dense_corpus(base, n, args.sigma)
        tokens = RecombinedTokens(text["sentences"], text["passages"], n)
        for shards in args.shards:
            url = cluster("up", shards, args.port, "--shards", str(shards))
            try:
                built = publish_corpus(url, vectors, tokens, hnsw)
                result = {"passages": n, "shards": shards, "hnsw": args.hnsw, **built,
                          **measure(url, vectors, queries, questions, tokens, args.sides), "load_average": os.getloadavg()}
            finally:
                cluster("down", shards, args.port)
            print(json.dumps(result), flush=True)
            results.append(result)
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "pg-scale.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
