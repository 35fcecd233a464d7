"""Fit the answerable signal (server/answers.py, Calibration) by grouped cross-validation, and report it.

    python -m eval.calibrate [--uit-questions 300] [--folds 5] [--out out/eval/calibration]

Questions and whether the corpus they are asked of holds their answer:
- the gold questions (eval/gold.jsonl) on the seed articles: answerable or not as written there;
- uit-regulations-qa dev questions (MIT) on their own corpus (answerable) and on the seed articles,
  which hold no university regulation (not answerable).
Each question gives two features, the best answer score and the best coverage among its top passages
(`Calibration.features`), from the real searcher (hybrid, the shipped ranker). A logistic regression
over them is scored by grouped k-fold CV (a uit question's two askings stay in one fold), against the
hand-set coefficients on the same questions; accuracy, AUROC and a reliability plot are written to
--out, and the coefficients fitted on everything to calibration.json, to be copied into Calibration.
Questions naming a registered document whose answer sentence states what was asked get a fixed
confidence in the product and are left out.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

from eval.beir import QueryMemo, ensure_index, load_dataset
from eval.gold import ensure_seed_index, load_gold
from eval.report import write_json
from indexer.embedding_cache import EmbeddingCache
from server.answers import Calibration
from server.search import Searcher, load_ranker
from tracuu.core.encoders.select import settings_encoders
from tracuu.settings import Settings

GOLD = Path(__file__).with_name("gold.jsonl")
K = 5  # passages whose answers count, as the product shows them


def asked(searcher: Searcher, question: str) -> tuple[float, float] | None:
    """(best answer score, best coverage), or None when the answer is fixed (stated) or there is none."""
    result = searcher.search(question, K, "hybrid")
    answers = [h.answer for h in result.hits if h.answer]
    if not answers or any(a.states for a in answers):
        return None
    return Calibration.features(answers)


def collect(settings: Settings, uit_questions: int, seed: int = 0) -> list[dict]:
    passages, queries = settings_encoders(settings)
    cache = EmbeddingCache(settings.embedding_cache)
    memo = QueryMemo(queries)
    ranker = load_ranker(settings.fusion)
    seed_index = ensure_seed_index(settings.corpus_dir, passages, cache, settings.home).index_dir
    on_seed = Searcher(seed_index, memo, ranker)
    uit = load_dataset(settings.benchmarks / "uit-regulations-qa", "dev")
    on_uit = Searcher(ensure_index(uit, passages, cache, settings.home).index_dir, memo, ranker)
    rows = []
    for q in load_gold(GOLD):
        if (x := asked(on_seed, q.question)) is not None:
            rows.append({"source": "gold", "group": q.id, "x": x, "y": int(q.answerable)})
    picked = random.Random(seed).sample(sorted(uit.queries), min(uit_questions, len(uit.queries)))
    for qid in picked:
        text = uit.queries[qid]
        for source, searcher, label in (("uit on uit", on_uit, 1), ("uit on seed", on_seed, 0)):
            if (x := asked(searcher, text)) is not None:
                rows.append({"source": source, "group": f"uit:{qid}", "x": x, "y": label})
    return rows


def folds_of(rows: list[dict], folds: int, seed: int = 0) -> np.ndarray:
    groups = sorted({r["group"] for r in rows})
    random.Random(seed).shuffle(groups)
    fold = {g: i % folds for i, g in enumerate(groups)}
    return np.array([fold[r["group"]] for r in rows])


def fit(x: np.ndarray, y: np.ndarray) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=10.0).fit(x, y)
    return Calibration(bias=float(model.intercept_[0]), w_score=float(model.coef_[0][0]),
                       w_coverage=float(model.coef_[0][1]))


def probabilities(calibration: Calibration, x: np.ndarray) -> np.ndarray:
    z = calibration.bias + calibration.w_score * x[:, 0] + calibration.w_coverage * x[:, 1]
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def scores(p: np.ndarray, y: np.ndarray, sources: list[str]) -> dict:
    from sklearn.metrics import roc_auc_score

    right = (p >= 0.5) == (y == 1)
    per_source = {s: round(float(right[[i for i, t in enumerate(sources) if t == s]].mean()), 4)
                  for s in sorted(set(sources))}
    return {"accuracy": round(float(right.mean()), 4), "auroc": round(float(roc_auc_score(y, p)), 4),
            "accuracy_by_source": per_source, "questions": int(len(y))}


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict]:
    edges = np.linspace(0, 1, bins + 1)
    out = []
    for lo, hi in zip(edges, edges[1:]):
        inside = (p >= lo) & ((p < hi) | (hi == 1.0))
        if inside.any():
            out.append({"from": round(float(lo), 1), "to": round(float(hi), 1), "questions": int(inside.sum()),
                        "mean_confidence": round(float(p[inside].mean()), 4),
                        "answerable_share": round(float(y[inside].mean()), 4)})
    return out


def plot(curves: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    for name, bins in curves.items():
        ax.plot([b["mean_confidence"] for b in bins], [b["answerable_share"] for b in bins], marker="o", label=name)
    ax.set_xlabel("confidence (mean in bin)")
    ax.set_ylabel("share of questions the corpus answers")
    ax.set_title("Answerable signal: reliability (held-out folds)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uit-questions", type=int, default=300)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("out/eval/calibration"))
    args = parser.parse_args(argv)
    rows = collect(Settings(), args.uit_questions)
    x = np.array([r["x"] for r in rows], dtype=np.float64)
    y = np.array([r["y"] for r in rows])
    sources = [r["source"] for r in rows]
    fold = folds_of(rows, args.folds)
    held_out = np.zeros(len(rows))
    for f in range(args.folds):
        train = fold != f
        held_out[~train] = probabilities(fit(x[train], y[train]), x[~train])
    hand = probabilities(Calibration(), x)
    final = fit(x, y)
    report = {"cross_validated": scores(held_out, y, sources), "hand_set": scores(hand, y, sources),
              "fitted_on_all": final.__dict__, "folds": args.folds,
              "reliability": {"cross_validated": reliability(held_out, y), "hand_set": reliability(hand, y)}}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "report.json", report)
    write_json(args.out / "calibration.json", {"coefficients": final.__dict__})
    plot({"fitted (held-out folds)": report["reliability"]["cross_validated"],
          "hand-set": report["reliability"]["hand_set"]}, args.out / "reliability.png")
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    return report


if __name__ == "__main__":
    main()
