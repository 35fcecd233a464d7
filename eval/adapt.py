"""Issue 13, item 5: does adapting the encoder to the indexed corpus, without labels, help retrieval?

    python -m eval.adapt                                   # every set, default settings; prints a table
    python -m eval.adapt --sets uit-regulations-qa:dev --steps 100 --lr 1e-5   # tuning (uit dev only)

For each set, the base e5-small is fine-tuned on that set's own indexed text (no questions, no labels):
pairs (a sentence, the rest of its passage), (a section heading, a passage under it) and (the document
title, one of its passages), contrastive loss with in-batch negatives (sentence-transformers'
MultipleNegativesRankingLoss), the anchor read as an e5 "query: ", the positive as a "passage: ". The
adapted model is exported as the product exports any model (ONNX, int8 when faithful) and re-embeds
the set's passages; questions go through the real `Searcher` in dense mode and in hybrid mode with
weighted RRF, against the same for the base model on the same index. The learned ranker is left out:
it was fit on the base model's scores, and it reads answer-unit vectors that would have to be embedded
again (~20k per set). Hyperparameters are chosen on uit-regulations-qa dev only; alqac-legal, vicov and
the gold questions judge.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from eval.beir import (
    METRICS,
    QueryMemo,
    compute_metrics,
    ensure_index,
    load_dataset,
    retrieve,
)
from eval.gold import ask, ensure_seed_index, load_gold
from indexer.embedding_cache import EmbeddingCache
from server.live_index import LiveIndex
from server.search import BadQuery, Searcher
from tracuu.core.dense import DenseIndex, build_dense
from tracuu.core.store import IndexReader

SETS = ("uit-regulations-qa:dev", "alqac-legal:dev", "uit-vicov19qa:dev", "gold")
SHOWN = ("hit@1", "mrr@10", "recall@100")
MIN_WORDS = 5  # a sentence anchor shorter than this says too little to find its passage


@dataclass(frozen=True)
class Config:
    steps: int = 200
    batch: int = 16
    lr: float = 2e-5
    max_tokens: int = 96  # texts are cut here while training (passages embed at full length later)
    layers: int = 4  # only the top transformer layers learn: a third of the backward pass, less to forget
    seed: int = 0

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.__dict__, sort_keys=True).encode()).hexdigest()[:10]


@dataclass
class Pair:
    anchor: str
    positive: str
    group: str  # the document: two pairs of one document never share a batch (they are not negatives)
    negative: str | None = None  # a hard negative passage (supervised pairs); a batch uses them only if all have one


# ---- training data: the corpus's own text ----

def training_pairs(reader: IndexReader) -> list[Pair]:
    """(sentence, rest of its passage), (heading, passage), (title, passage) from every body passage."""
    rows = list(range(reader.size))
    passages = reader.passages(rows)
    spans = reader.unit_spans(rows)
    pairs = []
    for p in passages:
        if p.kind not in ("body", "title") or not p.text.strip():
            continue
        text = p.text
        for _, start, end in spans.get(p.row, []):
            sentence = text[start - p.start:end - p.start].strip()
            rest = (text[:start - p.start] + " " + text[end - p.start:]).strip()
            if len(sentence.split()) >= MIN_WORDS and len(rest.split()) >= MIN_WORDS:
                pairs.append(Pair(sentence, rest, p.doc_id))
        for label in (p.section, p.title):
            if label and len(label.split()) >= 2 and label.strip() not in text[:len(label) + 5]:
                pairs.append(Pair(label.strip(), text, p.doc_id))
    return pairs


def batches(pairs: list[Pair], size: int, steps: int, seed: int) -> list[list[Pair]]:
    """`steps` batches of `size` pairs (fewer if the corpus has fewer documents), each document at most
    once per batch; epochs reshuffled."""
    rng = random.Random(seed)
    groups = len({p.group for p in pairs})
    if groups < 2:  # a corpus of one document has no negatives
        raise ValueError("cần ít nhất hai tài liệu để thích ứng mô hình")
    out: list[list[Pair]] = []
    pool: list[Pair] = []
    while len(out) < steps:
        if len(pool) < size * 4 or len({p.group for p in pool}) < min(size, groups):
            fresh = list(pairs)
            rng.shuffle(fresh)
            pool += fresh
        batch, seen, keep = [], set(), []
        for pair in pool:
            if len(batch) < size and pair.group not in seen:
                batch.append(pair)
                seen.add(pair.group)
            else:
                keep.append(pair)
        pool = keep
        out.append(batch)
    return out


def fine_tune(base: Path, pairs: list[Pair], out: Path, config: Config, console: Console) -> float:
    """Train a copy of the sentence-transformers folder `base` into `out`; returns the final mean loss."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import (
        MultipleNegativesRankingLoss,
    )

    from tracuu.core.encoders.torch_encoder import Encoder

    torch.manual_seed(config.seed)
    model = SentenceTransformer(str(base), device="cpu")
    model.max_seq_length = config.max_tokens
    # The 250k-row token table is most of the weights: a few thousand pairs cannot teach it, and AdamW
    # over it would cost more than the layers. On 2 shared cores a step of 16 pairs takes ~5-8 s.
    bert = model[0].auto_model
    bert.embeddings.requires_grad_(False)
    for layer in bert.encoder.layer[:len(bert.encoder.layer) - config.layers]:
        layer.requires_grad_(False)
    loss_fn = MultipleNegativesRankingLoss(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.01)
    warmup = max(1, config.steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (config.steps - s) / (config.steps - warmup))))
    model.train()
    losses = []
    for step, batch in enumerate(batches(pairs, config.batch, config.steps, config.seed), 1):
        anchors = model.preprocess(["query: " + Encoder.prepare(p.anchor) for p in batch])
        positives = model.preprocess(["passage: " + Encoder.prepare(p.positive) for p in batch])
        features = [anchors, positives]
        if all(p.negative for p in batch):
            features.append(model.preprocess(["passage: " + Encoder.prepare(p.negative) for p in batch]))
        loss = loss_fn(features, None)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step % 25 == 0 or step == config.steps:
            console.print(f"  bước {step}/{config.steps}: loss {np.mean(losses[-25:]):.3f}")
    model.eval()
    if out.exists():
        shutil.rmtree(out)
    model.max_seq_length = 512
    model.save(str(out))
    (out / "adapted.json").write_text(json.dumps({"base": str(base), "config": config.__dict__,
                                                  "pairs": len(pairs)}), encoding="utf-8")
    return float(np.mean(losses[-25:]))


# ---- evaluation: the same index, the adapted vectors ----

def swapped(index_dir: Path, model_id: str, vectors: np.ndarray) -> LiveIndex:
    """The index as built with the base model (`model_id`), its dense side replaced by `vectors` (the
    lexical side and the passages unchanged)."""
    live = LiveIndex(index_dir, model_id)
    twin = IndexReader.__new__(IndexReader)
    twin.__dict__.update(live.reader.__dict__, dense=DenseIndex(build_dense(vectors.astype(np.float32))))
    live.reader = twin
    return live


def backend_of(base) -> str:
    """The backend `load_encoder` needs to run another model as `base` runs."""
    return "onnx-" + base.precision if hasattr(base, "precision") else "torch"


def load_adapted(folder: Path, base, settings, out: Path):
    """The model in `folder` through the product's path for any model folder (ONNX export next to it),
    on the base encoder's backend: int8 as the base index was embedded (auto may fall back to fp32:
    int8 fidelity .994 < .995)."""
    from tracuu.core.encoders.select import load_encoder

    return load_encoder(str(folder), out, backend_of(base), settings.onnx_quant)


def adapted_searcher(adapted, index_dir: Path, base) -> Searcher:
    """A Searcher over `index_dir` (built with `base`) with its dense side re-embedded by `adapted`."""
    reader = IndexReader(index_dir)
    vectors = adapted.encode_passages([p.text for p in reader.passages(list(range(reader.size)))])
    return Searcher(swapped(index_dir, base.model_id, vectors), QueryMemo(adapted))


@dataclass
class Target:
    name: str  # "uit-regulations-qa:dev" or "gold"
    index_dir: Path
    queries: dict[str, str] = field(default_factory=dict)
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)
    gold: list = field(default_factory=list)


def open_target(name: str, benchmarks: Path, encoder, cache: EmbeddingCache, home: Path, corpus: Path) -> Target:
    if name == "gold":
        info = ensure_seed_index(corpus, encoder, cache, home)
        return Target(name, info.index_dir, gold=load_gold(Path(__file__).with_name("gold.jsonl")))
    dataset, split = name.split(":")
    data = load_dataset(benchmarks / dataset, split)
    info = ensure_index(data, encoder, cache, home)
    return Target(name, info.index_dir, data.queries, data.qrels)


def measure(target: Target, searcher: Searcher) -> dict[str, dict[str, float]]:
    """mode -> metrics: hit@1 / MRR@10 / recall@100 by document (BEIR sets) or hit@1 / hit@5 (gold)."""
    out = {}
    for mode in ("dense", "hybrid"):
        if target.gold:
            answerable = [q for q in target.gold if q.answerable]
            outcomes = [ask(searcher, q, mode) for q in answerable]
            out[mode] = {"hit@1": np.mean([o.hit(1) for o in outcomes]),
                         "hit@5": np.mean([o.hit(5) for o in outcomes])}
            continue
        rankings = {}
        for qid, text in target.queries.items():
            try:
                rankings[qid] = [d.doc_id for d in retrieve(searcher, text, mode)]
            except BadQuery:
                rankings[qid] = []
        scores = compute_metrics(target.qrels, rankings)
        out[mode] = {ours: scores[METRICS[ours]] for ours in SHOWN}
    return {mode: {k: round(float(v), 4) for k, v in m.items()} for mode, m in out.items()}


def run_set(name: str, config: Config, args, settings, console: Console) -> dict:
    from tracuu.core.encoders.select import settings_encoders

    passages, questions = settings_encoders(settings)
    cache = EmbeddingCache(settings.embedding_cache)
    target = open_target(name, args.benchmarks, passages, cache, settings.home, settings.corpus_dir)
    reader = IndexReader(target.index_dir)
    row: dict = {"set": name, "config": config.__dict__,
                 "base_backend": backend_of(passages)}
    if not args.no_base:
        base = Searcher(LiveIndex(target.index_dir, passages.model_id), QueryMemo(questions))
        row["base"] = measure(target, base)
        console.print(f"{name} gốc: {row['base']}")

    started = time.perf_counter()
    pairs = training_pairs(reader)
    folder = args.out / f"{name.replace(':', '-')}-{config.key}"
    base_dir = Path(passages.path)
    row["pairs"] = len(pairs)
    console.print(f"{name}: {len(pairs)} cặp huấn luyện, {config.steps} bước")
    row["loss"] = fine_tune(base_dir, pairs, folder, config, console)
    row["train_minutes"] = round((time.perf_counter() - started) / 60, 1)

    started = time.perf_counter()
    adapted = load_adapted(folder, passages, settings, args.out)
    row["backend"] = getattr(adapted, "precision", "torch")
    row["adapted"] = measure(target, adapted_searcher(adapted, target.index_dir, passages))
    row["embed_minutes"] = round((time.perf_counter() - started) / 60, 1)
    console.print(f"{name} thích ứng: {row['adapted']} ({row['train_minutes']} + {row['embed_minutes']} phút)")
    return row


def show(rows: list[dict], console: Console) -> None:
    table = Table(title="Mô hình thích ứng với kho (không nhãn) so với mô hình gốc")
    for column in ("bộ", "chế độ", "gốc", "thích ứng", "cặp", "phút (huấn luyện + nhúng)"):
        table.add_column(column)
    for row in rows:
        for mode in ("dense", "hybrid"):
            fmt = lambda m: " / ".join(f"{v:.3f}" for v in m.values())
            table.add_row(row["set"], mode if mode == "dense" else "hybrid (RRF)",
                          fmt(row["base"][mode]) if "base" in row else "", fmt(row["adapted"][mode]),
                          str(row["pairs"]), f"{row['train_minutes']} + {row['embed_minutes']}")
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.adapt", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, default {','.join(SETS)}")
    parser.add_argument("--benchmarks", type=Path, default=None, help="default: TRACUU_BENCHMARKS")
    parser.add_argument("--steps", type=int, default=Config.steps)
    parser.add_argument("--batch", type=int, default=Config.batch)
    parser.add_argument("--lr", type=float, default=Config.lr)
    parser.add_argument("--max-tokens", type=int, default=Config.max_tokens)
    parser.add_argument("--layers", type=int, default=Config.layers, help="top layers that learn")
    parser.add_argument("--out", type=Path, default=Path("out/eval/adapt"), help="adapted models and report")
    parser.add_argument("--no-base", action="store_true", help="skip measuring the base model (tuning runs)")
    args = parser.parse_args(argv)

    import torch

    from tracuu.settings import Settings

    torch.set_num_threads(2)
    console = Console(stderr=True)
    settings = Settings()
    args.benchmarks = args.benchmarks or settings.benchmarks
    args.out.mkdir(parents=True, exist_ok=True)
    config = Config(args.steps, args.batch, args.lr, args.max_tokens, args.layers)
    rows = []
    for name in args.sets.split(","):
        rows.append(run_set(name, config, args, settings, console))
        with (args.out / "report.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(rows[-1], ensure_ascii=False) + "\n")
    show(rows, console)
    sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
