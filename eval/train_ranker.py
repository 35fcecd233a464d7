"""Train the learned fusion (server/ranker.py) and measure it without fooling ourselves.

    python -m eval.train_ranker                      # measure; write the model to out/eval/fusion_ranker.txt
    python -m eval.train_ranker --no-research --no-write
    cp out/eval/fusion_ranker.txt server/fusion_ranker.txt   # ship it (a reviewed, deliberate step)

Licensing decides the training data: ../shared/benchmarks/README.md allows alqac-legal and
uit-vicov19qa for evaluation only, so the shipped model is trained on uit-regulations-qa (MIT) alone,
dev + dev_wiki. What is reported:
- baseline: weighted RRF (the "rrf" fusion), i.e. what `tracuu eval --mode hybrid` gives with it;
- uit-regulations-qa: k-fold cross-validation. Folds are grouped so that a question never shares a
  fold boundary with its duplicate (normalized text) nor with another question about the same gold
  paragraph (the corpus has only 169 paragraphs; a tree could otherwise memorize them);
- alqac-legal, uit-vicov19qa with the shipped model: never seen in training, honest out-of-domain;
- research only (--research, default on): the same CV inside alqac and vicov, the in-domain ceiling.
  Those models are thrown away.
Every number comes from the real `Searcher` (hybrid mode, reference fast path included) through
eval.beir.retrieve and ranx, exactly as `tracuu eval` computes it; a ranker is only ever scored on
questions outside its training folds.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from eval.beir import (METRICS, Dataset, QueryMemo, compute_metrics, ensure_index, load_dataset, retrieve)
from eval.indexes import progress_bar
from eval.question_prior import SET as PRIOR_SET, hold_out
from eval.report import write_json
from indexer.embedding_cache import EmbeddingCache
from tracuu.core.textnorm import fold as strip_diacritics
from tracuu.core.textnorm import normalize
from server.ranker import FEATURES, LearnedFusion, candidate_features
from server.search import MAX_K, BadQuery, Searcher

SHIPPABLE = [("uit-regulations-qa", "dev"), ("uit-regulations-qa", "dev_wiki")]  # MIT
EVAL_ONLY = [("alqac-legal", "dev"), ("uit-vicov19qa", "dev")]  # never in the shipped model
PARAMS = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [1, 10],
    "lambdarank_truncation_level": 20,
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 0,
    "num_threads": 2,
    "verbosity": -1,
}
ROUNDS = 100  # per booster; three boosters (SEEDS) of 100 trees ship
SEED = 0
SEEDS = 3  # boosters in the shipped ensemble (train_ensemble)


@dataclass
class QueryData:
    qid: str
    text: str
    rows: list[int] = field(default_factory=list)
    features: np.ndarray = field(default_factory=lambda: np.zeros((0, len(FEATURES))))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class Split:
    dataset: Dataset
    searcher: Searcher
    queries: list[QueryData]

    @property
    def key(self) -> str:
        return f"{self.dataset.name}/{self.dataset.split}"


class Recorder:
    """Stands in for the ranker inside Searcher.search and keeps its inputs as features: training sees
    exactly what the ranker sees when serving. Returns the RRF order unchanged."""

    def __init__(self):
        self.last: tuple[list[int], np.ndarray] | None = None

    def rank(self, reader, query, vector, dense, lexical, weight, known, fused):
        self.last = candidate_features(reader, query, vector, dense, lexical, weight, known)
        return list(fused)


def collect(searcher: Searcher, dataset: Dataset, console: Console) -> list[QueryData]:
    """Candidates, features and labels (1 = the passage's document is relevant) of every query. Queries
    the ranker never sees (rejected, or no lexical match: hybrid is then dense only) get no rows."""
    recorder = Recorder()
    searcher = searcher.with_ranker(recorder)
    out = []
    with progress_bar(console, f"Đặc trưng {dataset.name}/{dataset.split}") as update:
        for n, (qid, text) in enumerate(dataset.queries.items(), 1):
            item = QueryData(qid, text)
            recorder.last = None
            try:
                searcher.search(text, MAX_K, "hybrid", answers=False)
            except BadQuery:
                pass
            if recorder.last:
                item.rows, item.features = recorder.last
                gold = dataset.qrels[qid]
                docs = {p.row: p.doc_id for p in searcher.reader.passages(item.rows)}
                item.labels = np.array([1.0 if gold.get(docs.get(r), 0) > 0 else 0.0 for r in item.rows])
            out.append(item)
            update(n, len(dataset.queries))
    return out


def groups_of(splits: Sequence[Split]) -> dict[tuple[str, str], int]:
    """(split key, query id) -> group: questions joined by the same normalized text or the same gold
    document (union-find), so that no fold boundary separates them."""
    parent: dict[object, object] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for split in splits:
        for qid, text in split.dataset.queries.items():
            node = ("q", split.key, qid)
            parent[find(node)] = find(("text", " ".join(normalize(text).split())))
            for doc, score in split.dataset.qrels[qid].items():
                if score > 0:
                    parent[find(node)] = find(("doc", split.dataset.name, doc))
    roots: dict[object, int] = {}
    return {(s.key, qid): roots.setdefault(find(("q", s.key, qid)), len(roots))
            for s in splits for qid in s.dataset.queries}


def assign_folds(groups: dict[tuple[str, str], int], folds: int, seed: int = SEED) -> dict[tuple[str, str], int]:
    """Whole groups to folds, in random order, each to the fold with the fewest questions so far."""
    sizes: dict[int, int] = {}
    for g in groups.values():
        sizes[g] = sizes.get(g, 0) + 1
    order = sorted(sizes)
    random.Random(seed).shuffle(order)
    load = [0] * folds
    fold_of = {}
    for g in order:
        fold_of[g] = min(range(folds), key=lambda f: load[f])
        load[fold_of[g]] += sizes[g]
    return {key: fold_of[g] for key, g in groups.items()}


def train(queries: Sequence[QueryData], rounds: int = ROUNDS, params: dict = PARAMS,
          names: Sequence[str] = FEATURES):
    """A lambdarank booster over the queries that have a relevant candidate (the others carry no signal);
    `names`: the columns the queries' features hold (eval.ranker_ablation trains on fewer)."""
    import lightgbm

    usable = [q for q in queries if len(q.rows) and q.labels.any()]
    data = lightgbm.Dataset(np.vstack([q.features for q in usable]), np.concatenate([q.labels for q in usable]),
                            group=[len(q.rows) for q in usable], feature_name=list(names))
    return lightgbm.train(params, data, num_boost_round=rounds)


def merge_boosters(boosters: Sequence) -> "lightgbm.Booster":
    """One booster scoring the sum of the given ones' scores (so it ranks as their mean does): their trees
    one after another in LightGBM's text format. The header's tree_sizes (an index for loading trees in
    parallel) is left out; LightGBM then reads the trees in order."""
    import lightgbm

    head = tail = ""
    trees: list[str] = []
    for booster in boosters:
        text = booster.model_to_string()
        start, end = text.index("\nTree=0\n"), text.index("\nend of trees\n")
        head, tail = head or text[:start], tail or text[end:]
        trees += [t.strip("\n") for t in re.split(r"(?m)^Tree=\d+$", text[start:end]) if t.strip()]
    head = "\n".join(line for line in head.split("\n") if not line.startswith("tree_sizes="))
    body = "".join(f"\nTree={i}\n{tree}\n" for i, tree in enumerate(trees))
    return lightgbm.Booster(model_str=head + body + tail)


def train_ensemble(queries: Sequence[QueryData], rounds: int = ROUNDS, seeds: int = SEEDS, params: dict = PARAMS,
                   names: Sequence[str] = FEATURES):
    """`seeds` boosters (bagging and feature sampling differ by seed) merged into one. A single booster's
    hit@1 moves by about ±.01 with its seed; the sum of three moves less and ranks a little better."""
    return merge_boosters([train(queries, rounds, {**params, "seed": params["seed"] + i}, names)
                           for i in range(seeds)])


def score(split: Split, ranker: LearnedFusion | None, qids: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Document rankings of the split's queries (all, or qids) by the Searcher with this ranker."""
    searcher = split.searcher.with_ranker(ranker)
    rankings = {}
    for qid in qids if qids is not None else split.dataset.queries:
        try:
            rankings[qid] = [d.doc_id for d in retrieve(searcher, split.dataset.queries[qid], "hybrid")]
        except BadQuery:
            rankings[qid] = []
    return rankings


def metrics(split: Split, rankings: dict[str, list[str]]) -> dict[str, float]:
    scores = compute_metrics(split.dataset.qrels, rankings)
    return {ours: round(scores[theirs], 4) for ours, theirs in METRICS.items()}


def cross_validate(splits: Sequence[Split], folds: int, rounds: int) -> dict[str, dict[str, float]]:
    """Metrics per split, each query ranked by a model trained on the other folds only."""
    fold_of = assign_folds(groups_of(splits), folds)
    rankings: dict[str, dict[str, list[str]]] = {s.key: {} for s in splits}
    for fold in range(folds):
        training = [q for s in splits for q in s.queries if fold_of[(s.key, q.qid)] != fold]
        ranker = LearnedFusion(train_ensemble(training, rounds))
        for s in splits:
            held_out = [q.qid for q in s.queries if fold_of[(s.key, q.qid)] == fold]
            rankings[s.key].update(score(s, ranker, held_out))
    return {s.key: metrics(s, rankings[s.key]) for s in splits}


def open_split(root: Path, name: str, split: str, passages, questions, cache, home: Path,
               console: Console, accentless: bool = False) -> Split:
    """One split's candidates and features; with accentless, its questions typed without diacritics
    (split "<split>-accentless"): the ranker must also order what an accentless question retrieves."""
    dataset = load_dataset(root / name, split)
    if accentless:
        dataset = replace(dataset, split=f"{split}-accentless",
                          queries={qid: strip_diacritics(text) for qid, text in dataset.queries.items()})
    with progress_bar(console, f"Chỉ mục {name}") as update:
        info = ensure_index(dataset, passages, cache, home, lambda stage, done, total: update(done, total))
    searcher = Searcher(info.index_dir, questions)  # weighted RRF; each ranker is given per run
    if name == PRIOR_SET:  # the shipped restoration counts these very questions
        hold_out(searcher.reader, root)
    return Split(dataset, searcher, collect(searcher, dataset, console))


def open_splits(console: Console, benchmarks: Path | None = None,
                accentless: bool = True) -> tuple[list[Split], list[Split]]:
    """(the training splits: SHIPPABLE, then with accentless their accentless copies; the EVAL_ONLY
    splits), with the encoders and caches of the settings."""
    from tracuu.core.encoders.select import settings_encoders
    from tracuu.settings import Settings

    settings = Settings()
    passages, questions = settings_encoders(settings)
    questions = QueryMemo(questions)
    cache = EmbeddingCache(settings.embedding_cache)

    def opened(pairs, accentless_copy=False):
        return [open_split(benchmarks or settings.benchmarks, n, s, passages, questions, cache, settings.home,
                           console, accentless_copy) for n, s in pairs]

    ship, other = opened(SHIPPABLE), opened(EVAL_ONLY)
    if accentless:  # the same MIT questions without diacritics: same labels, other features
        ship += opened(SHIPPABLE, accentless_copy=True)
    return ship, other


def table(title: str, rows: dict[str, dict[str, dict[str, float]]]) -> Table:
    """rows: label -> split key -> metrics."""
    out = Table(title=title)
    out.add_column("")
    out.add_column("bộ / split")
    for name in METRICS:
        out.add_column(name, justify="right")
    for label, per_split in rows.items():
        for key, values in per_split.items():
            out.add_row(label, key, *(f"{values[m]:.3f}" for m in METRICS))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.train_ranker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmarks", type=Path, default=None, help="default: TRACUU_BENCHMARKS")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--model", type=Path, default=Path("out/eval/fusion_ranker.txt"),
                        help="where the trained model is written (ship it by copying to server/fusion_ranker.txt)")
    parser.add_argument("--report", type=Path, default=Path("out/eval/ranker.json"))
    parser.add_argument("--no-write", action="store_true", help="measure only; leave the model file alone")
    parser.add_argument("--no-research", action="store_true", help="skip the in-domain CV on alqac and vicov")
    parser.add_argument("--no-accentless", action="store_true",
                        help="train on the questions as written only (no accentless copies)")
    args = parser.parse_args(argv)

    console = Console(stderr=True)
    started = time.perf_counter()
    ship, other = open_splits(console, args.benchmarks, accentless=not args.no_accentless)
    report: dict = {"features": list(FEATURES), "params": PARAMS, "rounds": args.rounds, "seeds": SEEDS,
                    "folds": args.folds,
                    "trained_on": [s.key for s in ship]}

    report["rrf"] = {s.key: metrics(s, score(s, None)) for s in ship + other}
    report["learned_cv"] = cross_validate(ship, args.folds, args.rounds)
    booster = train_ensemble([q for s in ship for q in s.queries], args.rounds)
    shipped = LearnedFusion(booster)
    report["learned_out_of_domain"] = {s.key: metrics(s, score(s, shipped)) for s in other}
    if not args.no_research:
        report["research_in_domain_cv"] = {}
        for s in other:
            report["research_in_domain_cv"].update(cross_validate([s], args.folds, args.rounds))
    gains = booster.feature_importance("gain")
    report["feature_gain"] = {name: round(float(g) / float(gains.sum()), 4) for name, g in zip(FEATURES, gains)}
    report["seconds"] = round(time.perf_counter() - started, 1)

    if not args.no_write:
        args.model.parent.mkdir(parents=True, exist_ok=True)
        booster.save_model(str(args.model))
        report["model"] = str(args.model)
    write_json(args.report, report)
    console.print(table("Kết hợp RRF có trọng số (cơ sở)", {"rrf": report["rrf"]}))
    console.print(table("Xếp hạng học được", {
        f"CV {args.folds} phần": report["learned_cv"],
        "mô hình phát hành": report["learned_out_of_domain"],
        **({"nghiên cứu: CV trong miền": report["research_in_domain_cv"]} if not args.no_research else {}),
    }))
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
