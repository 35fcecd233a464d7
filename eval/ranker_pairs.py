"""Issue 13 item 6: ranker training pairs made from a corpus without labels: does adding them help?

    python -m eval.ranker_pairs        # about 10 minutes

uit-regulations-qa is the only set whose license lets its data train the shipped model, so the pairs come
from its corpus: each article title ("Lớp học phần", "Điều kiện xét tốt nghiệp …"; not "Wikipedia" and not
empty) as a question whose relevant documents are the paragraphs under that title; 78 titles. Each pair's
candidates and features are recorded through the real `Searcher` as questions are (eval.train_ranker), as
typed and without diacritics. The ranker is then trained as `eval.ranker_ablation` trains it (3-seed
ensembles, grouped 5-fold CV on uit, where a title joins the fold of the questions about its paragraphs
and is never scored; out of domain on alqac-legal and uit-vicov19qa), once without the pairs, once with
the titles as typed, once with both copies. Recorded on 2026-12-03 in docs/quality.md, step 11: no gain,
not shipped. (The seed corpus's headings would make more pairs, but its five articles are what the gold
questions ask about, and only uit's data may train what ships.)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace

from rich.console import Console

from eval.beir import Dataset, read_records
from eval.ranker_ablation import documents, evaluate
from eval.train_ranker import SEEDS, Split, collect, open_splits
from server.ranker import FEATURES
from tracuu.core.textnorm import fold as strip_diacritics


def title_pairs(dataset: Dataset) -> Dataset:
    """Each distinct title of the dataset's corpus as a query, its documents as the relevant ones."""
    documents_of: dict[str, list[str]] = {}
    records, _ = read_records(dataset.corpus)
    for record in records:
        title = record.title.strip()
        if title and title != "Wikipedia":
            documents_of.setdefault(title, []).append(record.doc_id)
    queries = {f"title-{i}": title for i, title in enumerate(documents_of)}
    qrels = {f"title-{i}": dict.fromkeys(ids, 1) for i, ids in enumerate(documents_of.values())}
    return replace(dataset, split="titles", queries=queries, qrels=qrels)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.ranker_pairs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=SEEDS)
    args = parser.parse_args(argv)

    console = Console(stderr=True)
    ship, other = open_splits(console)
    uit = ship[0]
    typed = title_pairs(uit.dataset)
    accentless = replace(typed, split="titles-accentless",
                         queries={qid: strip_diacritics(text) for qid, text in typed.queries.items()})
    pairs = [Split(d, uit.searcher, collect(uit.searcher, d, console)) for d in (typed, accentless)]
    docs = {s.key: documents(s) for s in ship + other}
    report = {"pairs": len(typed.queries)}
    for label, extra in [("without pairs", []), ("titles", pairs[:1]), ("titles, typed and accentless", pairs)]:
        report[label] = evaluate(ship, other, docs, FEATURES, args.seeds, extra)
        console.print(label, "  ".join(f"{key} {h:.3f}/{m:.3f}" for key, (h, m) in report[label].items()))
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
