"""What every job measures with: memory, latency over repeated passes, recall against exact search, disk."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

K = 50  # the searcher's candidate depth
RECALL_AT = 10


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
    """FAISS searching with one OpenMP thread (what tracuu.core.dense.set_search_threads sets; reported as
    the latency) and with faiss's default (all cores; reported as `default_threads_*`)."""
    import faiss

    from tracuu.core import dense

    default = faiss.omp_get_max_threads()
    return {"": lambda: dense.set_search_threads(1), "default_threads": lambda: dense.set_search_threads(default)}


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
