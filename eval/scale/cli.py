"""The study's run over the sizes and its command line (`python -m eval.scale`)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from eval.scale.data import prepare
from eval.scale.jobs import run_job, worker
from eval.scale.measure import K, RECALL_AT
from eval.scale.report import write_outputs
from tracuu.settings import Settings

SWEEP = (10_000, 20_000, 30_000, 50_000, 100_000, 200_000, 500_000)  # exact-search latency ladder (≤ largest size)


def run(args, settings: Settings) -> dict:
    from tracuu.core import dense

    out = Path(args.out)
    data = out / "data"
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {message}", flush=True)

    base = prepare(data, settings, args.synthetic_only, args.embed_budget, args.sigma, log)
    log(f"base: {json.dumps(base, ensure_ascii=False)}")
    common = {"data": str(data), "sigma": args.sigma, "repeats": args.repeats, "latency_queries": args.latency_queries}
    n_exact = args.n_exact if args.n_exact is not None else dense.N_EXACT
    report: dict = {"setup": {"sizes": args.sizes, "k": K, "recall_at": RECALL_AT, "n_exact": n_exact,
                              "repeats": args.repeats, "latency_queries": args.latency_queries, "sides": args.sides,
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
        if "dense" in args.sides:
            report["dense"].append(dense_index("auto", out / f"n{n}", unmapped=True))
            if report["dense"][-1].get("params", {}).get("type") == "flat":
                report["exact"].append(report["dense"][-1])
            else:  # the exact index at the same size
                report["exact"].append(dense_index("flat", out / f"n{n}-flat", sweep=False))
                if args.compare and n == max(args.sizes):  # the alternatives, at the largest size
                    report["compared"] += [dense_index(kind, out / f"n{n}-{kind}") for kind in ("ivf-8bit-rerank", "ivf-float32", "hnsw")]
        if "lexical" in args.sides:
            report["lexical"].append(lexical_index(common, out / f"n{n}-lexical", args, limit, log))
        write_outputs(report, out)
    ladder = [s for s in SWEEP if s <= max(args.sizes)] if "dense" in args.sides else []
    if ladder:
        report["exact_sweep"] = run_job("exact_sweep", {**common, "sizes": ladder}, out / "sweep", limit, log)
    if not args.synthetic_only and "dense" in args.sides:
        encoder = {"model": settings.model, "models_dir": str(settings.models_dir.resolve())}
        try:
            report["encoder"] = run_job("encoder_rss", encoder, out / "encoder", limit, log)
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


def lexical_index(common: dict, folder: Path, args, limit: float, log) -> dict:
    """Build the bm25s index (or, with --reuse, take the one a former run kept in folder), then load it
    in a fresh process and measure it."""
    built = folder / "lexical_build.result.json"
    try:
        if args.reuse and built.exists() and (folder / "lexical").is_dir():
            lexical = {**json.loads(built.read_text(encoding="utf-8")), "reused": True}
            log(f"lexical_build n={common['n']}: reused {folder / 'lexical'}")
        else:
            lexical = run_job("lexical_build", common, folder, limit, log)
        return {**lexical, **run_job("lexical_measure", common, folder, limit, log)}
    except RuntimeError as exc:
        return {"n": common["n"], "error": str(exc)}
    finally:
        if not (args.keep or args.reuse):
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:  # one job in a fresh process (jobs.run_job starts it)
        worker(argv[1], Path(argv[2]), Path(argv[3]))
        return
    from eval import scale

    parser = argparse.ArgumentParser(prog="python -m eval.scale", description=scale.__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--out", default="out/scale")
    parser.add_argument("--synthetic-only", action="store_true", help="clustered Gaussian vectors, seed-corpus text: no model")
    parser.add_argument("--embed-budget", type=float, default=600, help="seconds of new embedding for the base set")
    parser.add_argument("--sigma", type=float, default=0.02, help="noise per dimension of the copied vectors")
    parser.add_argument("--n-exact", type=int, default=None, help="override tracuu.core.dense.N_EXACT")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-queries", type=int, default=200)
    parser.add_argument("--memory-limit-mb", type=float, default=10_000)
    parser.add_argument("--compare", action="store_true", help="also build and measure HNSW at the largest size")
    parser.add_argument("--keep", action="store_true", help="keep the built indexes in OUT/n<N>")
    parser.add_argument("--sides", nargs="+", choices=("dense", "lexical"), default=["dense", "lexical"],
                        help="measure only these sides (--sides lexical: no dense index is built)")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the lexical indexes a former run kept in OUT/n<N>-lexical (and keep them)")
    parser.add_argument("--docs", default=None, help="also copy scale.png and scale.md into this folder")
    parser.add_argument("--benchmarks", type=Path, default=None,
                        help="folder of the BEIR benchmark sets (default: the settings' benchmarks, TRACUU_BENCHMARKS)")
    args = parser.parse_args(argv)
    settings = Settings(benchmarks=args.benchmarks) if args.benchmarks is not None else Settings()
    run(args, settings)
