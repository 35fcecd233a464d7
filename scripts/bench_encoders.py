"""Encoder speed: torch sentence-transformers vs onnxruntime fp32 vs onnxruntime dynamic int8.

    .venv/bin/python scripts/bench_encoders.py [--queries 200] [--passages 128] [--rounds 3]

Single-query latency: each of N queries (13-26 tokens with the "query: " prompt and <s>/</s>, cut
from the seed corpus) is encoded alone, after a warm-up; the median over all rounds is reported.
Passage throughput: the seed corpus packed into passages of at most 256 tokens, encoded with
encode_passages (length-sorted batches of 32); passages/s per round, median reported. Each query
runs on every backend in rotating order (and the passage runs rotate per round), so load from
other processes falls on all backends alike.
Timings on a shared machine are noisy: compare medians of several runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BACKENDS = ("torch", "onnx-fp32", "onnx-int8")
# "onnx-int8-vnni" (also accepted): int8 with s8 weights (TRACUU_ONNX_QUANT=vnni), exported to its
# own folder <model folder>-onnx-vnni so that the shared files are left alone.


def corpus_lines(corpus: Path) -> list[str]:
    return [ln.strip() for p in sorted(corpus.glob("*.txt")) for ln in p.read_text("utf-8").splitlines() if ln.strip()]


def make_queries(lines: list[str], count: int, n_tokens) -> list[str]:
    """Sentence starts whose tokenized query input has 13-26 tokens, lengths spread over that range."""
    out: list[str] = []
    sentences = [s.strip() for ln in lines for s in re.split(r"(?<=[.?!;:])\s+", ln) if len(s.split()) >= 4]
    for i, sentence in enumerate(sentences):
        target = 13 + i % 14  # the longest start with 13..target tokens
        words = sentence.split()
        for k in range(len(words), 2, -1):
            text = " ".join(words[:k])
            if 13 <= n_tokens("query: " + text) <= target:
                out.append(text)
                break
    if not out:
        raise SystemExit("no query of 13-26 tokens found in the corpus")
    return [out[i % len(out)] for i in range(count)]


def make_passages(lines: list[str], count: int, n_tokens, limit: int = 256) -> list[str]:
    """Corpus lines packed word by word into passages of at most ``limit`` tokens."""
    out: list[str] = []
    words = " ".join(lines).split()
    current: list[str] = []
    for word in words:
        if current and n_tokens("passage: " + " ".join(current + [word])) > limit:
            out.append(" ".join(current))
            current = []
        current.append(word)
        if len(out) >= count:
            break
    if current and len(out) < count:
        out.append(" ".join(current))
    return [out[i % len(out)] for i in range(count)]


def load(backend: str, model: str, models_dir: Path, threads: int):
    """torch with ``threads`` intra-op threads, or onnxruntime at the given precision."""
    from tracuu.core.encoders.torch_encoder import Encoder
    from tracuu.core.encoders.onnx_encoder import OnnxEncoder

    if backend == "torch":
        import torch

        torch.set_num_threads(threads)
        return Encoder(model, models_dir)
    if backend == "onnx-int8-vnni":
        from tracuu.core.encoders.model_convert import ensure_model
        from tracuu.core.encoders.onnx_export import onnx_dir_for

        folder = onnx_dir_for(ensure_model(model, models_dir), models_dir)
        return OnnxEncoder(model, models_dir, precision="int8", threads=threads, quantization="vnni",
                           onnx_dir=folder.with_name(folder.name + "-vnni"))
    return OnnxEncoder(model, models_dir, precision=backend.removeprefix("onnx-"), threads=threads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--passages", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads for torch and onnxruntime")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--quick", action="store_true", help="40 queries, 32 passages, 1 round (a smoke run)")
    args = ap.parse_args()
    if args.quick:
        args.queries, args.passages, args.rounds, args.warmup = 40, 32, 1, 5

    import numpy as np
    from tokenizers import Tokenizer

    from tracuu.core.encoders.model_convert import ensure_model
    from tracuu.settings import Settings

    settings = Settings()
    folder = Path(ensure_model(settings.model, settings.models_dir))
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()

    def n_tokens(text: str) -> int:
        return len(tok.encode(text).ids)

    lines = corpus_lines(settings.corpus_dir)
    queries = make_queries(lines, args.queries, n_tokens)
    passages = make_passages(lines, args.passages, n_tokens)
    q_lens = [n_tokens("query: " + q) for q in queries]
    p_lens = [n_tokens("passage: " + p) for p in passages]
    print(f"queries: {len(queries)} ({len(set(queries))} distinct), {min(q_lens)}-{max(q_lens)} tokens, "
          f"median {statistics.median(q_lens)}; passages: {len(passages)}, {min(p_lens)}-{max(p_lens)} tokens, "
          f"median {statistics.median(p_lens)}")

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    encoders = {}
    for b in backends:
        t = time.perf_counter()
        encoders[b] = load(b, settings.model, settings.models_dir, args.threads)
        print(f"loaded {b} ({type(encoders[b]).__name__}) in {time.perf_counter() - t:.1f} s")

    for enc in encoders.values():  # warm-up
        for q in queries[:args.warmup]:
            enc.encode_queries([q])
        enc.encode_passages(passages[:32])

    latency: dict[str, list[float]] = {b: [] for b in backends}
    cpu: dict[str, list[float]] = {b: [] for b in backends}  # process CPU time (includes spinning)
    throughput: dict[str, list[float]] = {b: [] for b in backends}
    load_before = os.getloadavg()
    for r in range(args.rounds):
        times: dict[str, list[float]] = {b: [] for b in backends}
        cpu_times: dict[str, list[float]] = {b: [] for b in backends}
        for i, q in enumerate(queries):  # each query on every backend, in rotating order
            for j in range(len(backends)):
                b = backends[(i + j) % len(backends)]
                c, t = time.process_time(), time.perf_counter()
                encoders[b].encode_queries([q])
                times[b].append(time.perf_counter() - t)
                cpu_times[b].append(time.process_time() - c)
        for j in range(len(backends)):
            b = backends[(r + j) % len(backends)]
            t = time.perf_counter()
            encoders[b].encode_passages(passages)
            throughput[b].append(len(passages) / (time.perf_counter() - t))
        for b in backends:
            latency[b] += times[b]
            cpu[b] += cpu_times[b]
            print(f"round {r + 1} {b:10s} query median {1000 * statistics.median(times[b]):6.2f} ms, "
                  f"passages {throughput[b][-1]:6.1f}/s, load {os.getloadavg()[0]:.2f}", flush=True)
    load_after = os.getloadavg()

    rows = {}
    for b in backends:
        ms = 1000 * np.array(latency[b])
        rows[b] = {"query_median_ms": float(np.median(ms)), "query_p90_ms": float(np.percentile(ms, 90)),
                   "query_cpu_median_ms": float(1000 * np.median(cpu[b])),
                   "passages_per_s_median": float(statistics.median(throughput[b])),
                   "passages_per_s_rounds": throughput[b]}
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores; other processes add noise)")
    print(f"threads: {args.threads}")
    print("| backend | 1 query median (ms) | p90 (ms) | CPU per query, median (ms) | passages/s, batch 32, <=256 tok |")
    print("|---|---|---|---|---|")
    for b, row in rows.items():
        print(f"| {b} | {row['query_median_ms']:.2f} | {row['query_p90_ms']:.2f} | {row['query_cpu_median_ms']:.2f} "
              f"| {row['passages_per_s_median']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "load": [load_before, load_after]}, indent=2), "utf-8")


if __name__ == "__main__":
    main()
