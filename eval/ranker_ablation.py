"""Which groups of ranker features earn their place: the ranker retrained without each group.

    python -m eval.ranker_ablation                 # every group, 3 seeds (about 15 minutes)
    python -m eval.ranker_ablation --seeds 1 --groups spans numbers
    python -m eval.ranker_ablation --groups --param objective=rank_xendcg    # other LightGBM settings

The candidates and features of every question are recorded once through the real `Searcher`, as
`eval.train_ranker` records them (uit-regulations-qa dev + dev_wiki and their accentless copies for
training, alqac-legal and uit-vicov19qa dev out of domain). Each configuration is then trained with the
same grouped 5-fold CV and parameters, and scored offline over the recorded candidates: hit@1 and MRR@10
of the documents in model order (the regulation fast path and the rows below the candidates are left
out, so figures differ slightly from `eval.train_ranker`'s). One LightGBM model moves by about ±.01 when
its columns change, so each configuration is an ensemble of `--seeds` models (`train_ensemble`, as shipped).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from rich.console import Console

from eval.train_ranker import PARAMS, ROUNDS, SEEDS, QueryData, Split, assign_folds, groups_of, open_splits, train_ensemble
from server.ranker import FEATURES

GROUPS = {
    "scores": ("dense_score", "dense_gap", "dense_z", "dense_rank", "lex_score", "lex_ratio", "lex_z", "lex_rank",
               "rrf", "rrf_rank"),
    "query": ("known_share", "query_len"),
    "sentences": ("sent_cos_max", "sent_cos_second", "sent_overlap", "sent_bigram_overlap", "sent_best_overlap",
                  "numbers_found", "names_found"),
    "gaps": ("sent_cos_gap", "overlap_gap", "lex_unit_share"),
    "spans": ("span_ratio", "unit_span_ratio"),
    "numbers": ("unit_new_number", "passage_new_number", "unit_year"),
}


def documents(split: Split) -> dict[str, list[str]]:
    """Each query's candidates as document ids, read once per split."""
    return {q.qid: [p.doc_id for p in split.searcher.reader.passages(q.rows)] for q in split.queries if len(q.rows)}


def metrics(split: Split, docs: dict[str, list[str]], scores: dict[str, np.ndarray]) -> tuple[float, float]:
    """hit@1 and MRR@10 of the split's documents (`documents`) ordered by `scores` (query id -> one per
    candidate)."""
    hit = rr = 0.0
    for q in split.queries:
        if q.qid not in scores:
            continue
        ranked = list(dict.fromkeys(docs[q.qid][i] for i in np.lexsort((q.rows, -scores[q.qid]))))[:10]
        relevant = [split.dataset.qrels[q.qid].get(d, 0) > 0 for d in ranked]
        hit += relevant[0] if relevant else 0
        rr += next((1 / (k + 1) for k, r in enumerate(relevant) if r), 0.0)
    return hit / len(split.queries), rr / len(split.queries)


def columns(queries: Sequence[QueryData], names: Sequence[str]) -> list[QueryData]:
    keep = [FEATURES.index(n) for n in names]
    return [replace(q, features=q.features[:, keep]) if len(q.rows) else q for q in queries]


def evaluate(ship: list[Split], other: list[Split], docs: dict[str, dict[str, list[str]]], names: Sequence[str],
             seeds: int, extra: Sequence[Split] = (), params: dict = PARAMS) -> dict[str, tuple]:
    """Per split: CV scores on the training splits, the model on all of them for the others. `extra`:
    more training queries (eval.ranker_pairs), folded with the questions about the same documents and
    never scored."""
    fold_of = assign_folds(groups_of([*ship, *extra]), 5)
    data = {s.key: columns(s.queries, names) for s in [*ship, *other, *extra]}
    training = [*ship, *extra]

    def model(queries):
        return train_ensemble(queries, ROUNDS, seeds, params, names)

    scores: dict[str, dict[str, np.ndarray]] = {s.key: {} for s in ship + other}
    for fold in range(5):
        booster = model([q for s in training for q in data[s.key] if fold_of[(s.key, q.qid)] != fold])
        for s in ship:
            for q in data[s.key]:
                if fold_of[(s.key, q.qid)] == fold and len(q.rows):
                    scores[s.key][q.qid] = booster.predict(q.features, num_threads=2)
    booster = model([q for s in training for q in data[s.key]])
    for s in other:
        scores[s.key] = {q.qid: booster.predict(q.features, num_threads=2) for q in data[s.key] if len(q.rows)}
    return {s.key: metrics(s, docs[s.key], scores[s.key]) for s in ship + other}


def _param(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.ranker_ablation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--groups", nargs="*", choices=sorted(GROUPS), default=sorted(GROUPS))
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a LightGBM parameter over the shipped ones (VALUE read as JSON when it parses), "
                             "e.g. objective=binary, extra_trees=true")
    args = parser.parse_args(argv)
    params = {**PARAMS, **dict(_param(p) for p in args.param)}

    console = Console(stderr=True)
    ship, other = open_splits(console)
    docs = {s.key: documents(s) for s in ship + other}
    report = {}
    for label, names in [("all", FEATURES)] + [(f"without {g}", [f for f in FEATURES if f not in GROUPS[g]])
                                                for g in args.groups]:
        report[label] = evaluate(ship, other, docs, names, args.seeds, params=params)
        console.print(label, "  ".join(f"{key} {h:.3f}/{m:.3f}" for key, (h, m) in report[label].items()))
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
