"""Does fine-tuning the encoder on uit-regulations-qa's labelled questions help retrieval?

    python -m eval.encoder_uit                       # uit by grouped 2-fold CV, then alqac, vicov, gold
    python -m eval.encoder_uit --negatives           # … with one hard negative per question

uit-regulations-qa (MIT) is the only set whose questions may train what ships. Its 1,224 questions (dev
and dev_wiki) and their gold paragraphs become (question, paragraph) pairs for the same contrastive
training as `eval.adapt` (in-batch negatives; optionally the first non-gold paragraph of the base
model's RRF list as a hard negative). uit itself is measured by grouped cross-validation: its
paragraphs are split in two, and each half's questions are answered by the model trained on the other
half's. alqac-legal, uit-vicov19qa and the gold questions are answered by the model trained on all of
uit, which never saw them. Dense mode and hybrid mode with weighted RRF, as in `eval.adapt` (the
learned ranker was fit on the base model's scores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from eval.adapt import (
    SHOWN,
    Config,
    Pair,
    adapted_searcher,
    fine_tune,
    load_adapted,
    measure,
    open_target,
)
from eval.beir import (
    METRICS,
    QueryMemo,
    compute_metrics,
    ensure_index,
    load_dataset,
    retrieve,
)
from indexer.embedding_cache import EmbeddingCache
from server.live_index import LiveIndex
from server.search import BadQuery, Searcher
from tracuu.core.store import IndexReader

UIT = "uit-regulations-qa"
SPLITS = ("dev", "dev_wiki")
OUT_OF_DOMAIN = ("alqac-legal:dev", "uit-vicov19qa:dev", "gold")


def fold_of(doc_id: str, folds: int = 2) -> int:
    """Paragraphs (and with them all their questions) go to a fold by a hash of the id."""
    return int(hashlib.sha1(doc_id.encode()).hexdigest(), 16) % folds


def paragraph_texts(reader: IndexReader) -> dict[str, str]:
    """doc id -> its text as indexed (passages of one document joined)."""
    texts: dict[str, list[str]] = {}
    for p in reader.passages(list(range(reader.size))):
        if p.kind == "body":
            texts.setdefault(p.doc_id, []).append(p.text)
    return {doc: "\n".join(parts) for doc, parts in texts.items()}


def labelled_questions(benchmarks: Path) -> dict[str, list[tuple[str, str, str]]]:
    """split -> [(query id, question, gold doc id)] (the first gold paragraph of each question)."""
    out = {}
    for split in SPLITS:
        data = load_dataset(benchmarks / UIT, split)
        out[split] = [(qid, text, next(iter(data.qrels[qid]))) for qid, text in data.queries.items()]
    return out


def hard_negatives(searcher: Searcher, questions, texts: dict[str, str]) -> dict[str, str]:
    """query id -> text of the first document of the base RRF list that is not its gold one."""
    out = {}
    for qid, text, gold in questions:
        for hit in retrieve(searcher, text, "hybrid", depth=10):
            if hit.doc_id != gold and hit.doc_id in texts:
                out[qid] = texts[hit.doc_id]
                break
    return out


def make_pairs(questions, texts, negatives: dict[str, str] | None) -> list[Pair]:
    return [Pair(text, texts[gold], gold, negatives.get(qid) if negatives is not None else None)
            for qid, text, gold in questions if gold in texts]


def rankings_of(searcher: Searcher, questions, mode: str) -> dict[str, list[str]]:
    out = {}
    for qid, text, _ in questions:
        try:
            out[qid] = [d.doc_id for d in retrieve(searcher, text, mode)]
        except BadQuery:
            out[qid] = []
    return out


def scores(qrels, rankings) -> dict[str, float]:
    metrics = compute_metrics(qrels, rankings)
    return {ours: round(float(metrics[METRICS[ours]]), 4) for ours in SHOWN}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.encoder_uit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmarks", type=Path, default=None, help="default: TRACUU_BENCHMARKS")
    parser.add_argument("--epochs", type=float, default=1.5, help="passes over the training pairs")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4, help="top layers that learn")
    parser.add_argument("--negatives", action="store_true", help="one hard negative per question")
    parser.add_argument("--skip-cv", action="store_true")
    parser.add_argument("--skip-ood", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("out/eval/encoder_uit"))
    args = parser.parse_args(argv)

    import torch

    from tracuu.core.encoders.select import settings_encoders
    from tracuu.settings import Settings

    torch.set_num_threads(2)
    console = Console(stderr=True)
    settings = Settings()
    benchmarks = args.benchmarks or settings.benchmarks
    args.out.mkdir(parents=True, exist_ok=True)
    passages, questions_encoder = settings_encoders(settings)
    cache = EmbeddingCache(settings.embedding_cache)

    data = load_dataset(benchmarks / UIT, "dev")
    index_dir = ensure_index(data, passages, cache, settings.home).index_dir
    reader = IndexReader(index_dir)
    texts = paragraph_texts(reader)
    asked = labelled_questions(benchmarks)
    everyone = [q for split in SPLITS for q in asked[split]]
    base = Searcher(LiveIndex(index_dir, passages.model_id), QueryMemo(questions_encoder))
    negatives = hard_negatives(base, everyone, texts) if args.negatives else None
    qrels = {split: {qid: {gold: 1} for qid, _, gold in asked[split]} for split in SPLITS}
    report: dict = {"settings": vars(args) | {"benchmarks": str(benchmarks), "out": str(args.out)}}

    def train(pairs: list[Pair], name: str) -> Path:
        steps = max(1, round(args.epochs * len(pairs) / args.batch))
        config = Config(steps, args.batch, args.lr, args.max_tokens, args.layers)
        folder = args.out / f"{name}-{config.key}{'-neg' if args.negatives else ''}"
        started = time.perf_counter()
        console.print(f"{name}: {len(pairs)} cặp, {steps} bước")
        loss = fine_tune(Path(passages.path), pairs, folder, config, console)
        report.setdefault("training", {})[name] = {
            "pairs": len(pairs), "steps": steps, "loss": round(loss, 3),
            "minutes": round((time.perf_counter() - started) / 60, 1)}
        return folder

    if not args.skip_cv:
        cv = {mode: {split: {} for split in SPLITS} for mode in ("dense", "hybrid")}
        base_runs = {mode: {split: rankings_of(base, asked[split], mode) for split in SPLITS}
                     for mode in ("dense", "hybrid")}
        for fold in (0, 1):
            held = {split: [q for q in asked[split] if fold_of(q[2]) == fold] for split in SPLITS}
            pairs = make_pairs([q for q in everyone if fold_of(q[2]) != fold], texts, negatives)
            folder = train(pairs, f"uit-fold{fold}")
            searcher = adapted_searcher(load_adapted(folder, passages, settings, args.out), index_dir, passages)
            for mode in ("dense", "hybrid"):
                for split in SPLITS:
                    cv[mode][split].update(rankings_of(searcher, held[split], mode))
        report["uit_cv"] = {
            mode: {split: {"base": scores(qrels[split], base_runs[mode][split]),
                           "adapted": scores(qrels[split], cv[mode][split])} for split in SPLITS}
            for mode in ("dense", "hybrid")}
        console.print(report["uit_cv"])

    if not args.skip_ood:
        adapted = load_adapted(train(make_pairs(everyone, texts, negatives), "uit-all"), passages, settings, args.out)
        for name in OUT_OF_DOMAIN:
            started = time.perf_counter()
            target = open_target(name, benchmarks, passages, cache, settings.home, settings.corpus_dir)
            searcher = adapted_searcher(adapted, target.index_dir, passages)
            report.setdefault("out_of_domain", {})[name] = {
                "adapted": measure(target, searcher),
                "minutes": round((time.perf_counter() - started) / 60, 1)}
            console.print(name, report["out_of_domain"][name])

    (args.out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
