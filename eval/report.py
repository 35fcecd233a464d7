"""What an evaluation leaves behind: rich tables, TREC run files, report.json, failures.jsonl and a plot."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from rich.table import Table


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def trec_id(identifier: str) -> str:
    """TREC files are split on whitespace: whitespace (and %) in an id is percent-encoded."""
    return re.sub(r"[\s%]", lambda m: f"%{ord(m.group()):02X}", identifier)


def write_trec_run(path: Path, rankings: dict[str, Sequence[str]], tag: str) -> None:
    """`qid Q0 docid rank score tag`, score = 1/rank (strictly decreasing, so any tool keeps our order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for qid, docs in rankings.items():
            for rank, doc_id in enumerate(docs, 1):
                handle.write(f"{trec_id(qid)} Q0 {trec_id(doc_id)} {rank} {1.0 / rank:.6f} {tag}\n")


def _best(values: list[float]) -> float | None:
    return max(values) if len(values) > 1 else None


def metrics_table(title: str | None, metrics: dict[str, dict[str, float]], caption: str | None = None) -> Table:
    """Rows: metrics; columns: modes side by side; the best value of each row in bold."""
    modes = list(metrics)
    table = Table(title=title, caption=caption, title_justify="left")
    table.add_column("chỉ số")
    for mode in modes:
        table.add_column(mode, justify="right")
    names = list(next(iter(metrics.values())))
    for name in names:
        values = [metrics[m][name] for m in modes]
        best = _best(values)
        table.add_row(name, *(f"[bold]{v:.3f}[/]" if v == best else f"{v:.3f}" for v in values))
    return table


def plot_beir(path: Path, title: str, metrics: dict[str, dict[str, float]], curves: dict[str, list[float]]) -> None:
    """Left: each metric by mode (grouped bars). Right: recall@k for k = 1..100, one line per mode."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    modes = list(metrics)
    names = list(next(iter(metrics.values())))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    width = 0.8 / len(modes)
    x = np.arange(len(names))
    for i, mode in enumerate(modes):
        values = [metrics[mode][n] for n in names]
        bars = left.bar(x + (i - (len(modes) - 1) / 2) * width, values, width, label=mode)
        left.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    left.set_xticks(x, names)
    left.set_ylim(0, 1.15)
    left.set_ylabel("điểm")
    left.set_title("Chỉ số theo chế độ")
    left.legend(loc="upper center", ncol=len(modes), fontsize=8)
    left.grid(axis="y", alpha=0.3)
    for mode, curve in curves.items():
        right.plot(range(1, len(curve) + 1), curve, label=mode)
    right.set_xscale("log")
    right.set_xlim(1, max(len(c) for c in curves.values()))
    right.set_ylim(0, 1.02)
    right.set_xlabel("k (thang log)")
    right.set_ylabel("recall@k")
    right.set_title("recall@k, k = 1..100")
    right.legend(loc="lower right")
    right.grid(alpha=0.3, which="both")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def gold_tables(report: dict) -> list[Table]:
    """hit@1 / hit@5 / sentence@1 by question kind and mode, then the answerable signal by mode."""
    modes = list(report["modes"])
    hits = Table(title=f"Câu hỏi vàng {report['gold']} ({report['questions']} câu): hit@1 / hit@5 / "
                       "câu tô sáng đúng@1",
                 title_justify="left")
    hits.add_column("loại")
    hits.add_column("số câu", justify="right")
    for mode in modes:
        hits.add_column(mode, justify="right")
    for kind in [*report["modes"][modes[0]]["kinds"], "overall"]:
        rows = [report["modes"][m]["overall"] if kind == "overall" else report["modes"][m]["kinds"][kind] for m in modes]
        cells = [f"{r['hit@1']:.3f} / {r['hit@5']:.3f} / {r['sentence@1']:.3f}" for r in rows]
        label = "[bold]tổng[/]" if kind == "overall" else kind
        hits.add_row(label, str(rows[0]["questions"]), *cells, end_section=kind == list(report["modes"][modes[0]]["kinds"])[-1])
    signal = Table(title="Tín hiệu 'trả lời được': tỉ lệ đúng / độ tin trung bình", title_justify="left")
    signal.add_column("nhóm câu hỏi")
    signal.add_column("số câu", justify="right")
    for mode in modes:
        signal.add_column(mode, justify="right")
    for group, label in (("answerable", "trả lời được (cần True)"),
                         ("unanswerable", "không trả lời được (cần False)")):
        rows = [report["modes"][m]["answerable_signal"][group] for m in modes]
        signal.add_row(label, str(rows[0]["questions"]),
                       *(f"{r['accuracy']:.3f} / {r['mean_confidence']:.3f}" for r in rows))
    return [hits, signal]
