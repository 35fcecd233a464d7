"""Long, colloquial questions (issue 13, item 4): first-stage variants, each measured alone.

    cd /work/wt && PYTHONPATH=. /work/main/.venv/bin/python -m eval.long_questions [--split dev] [--limit N] [--json]

On uit-vicov19qa, uit-regulations-qa and alqac-legal dev (`tracuu eval`'s cached indexes): a) dense (whole
question), BM25, their weighted RRF as server.search fuses them; b) long questions encoded sentence by sentence,
max or mean of the pieces' cosines; c) BM25 + RM3; d) dense Rocchio; e) filler words dropped before BM25 and/or
encoding; f) a deeper first stage for long questions (and the shipped ranker over it); g) combinations. Metrics
per document (ranked by its best passage), from ranx; pool@50: recall of each side's top 50 (the ranker's
candidates); ±@1: questions whose first document became right / wrong; ms: extra time per query, encoding
included. Parameters were fixed before the first run; vicov may only be used for evaluation: nothing is fit on it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

import server.ranker as ranker_module
from eval.beir import compute_metrics, dedupe_documents, ensure_index, load_dataset
from indexer.embedding_cache import EmbeddingCache
from server.fusion import reciprocal_rank_fusion
from server.ranker import LearnedFusion
from server.search import LEXICAL_WEIGHT
from tracuu.core.dense import set_search_threads
from tracuu.core.encoders.select import settings_encoders
from tracuu.core.fillers import LONG, drop_fillers, is_long, syllable_count
from tracuu.core.hits import Hits
from tracuu.core.query import Query
from tracuu.core.store import IndexReader
from tracuu.settings import Settings

SETS = (("uit-vicov19qa", None), ("uit-regulations-qa", "dev"), ("alqac-legal", "dev"))  # None: --split
DEPTH = 300  # passages per side, as `tracuu eval` asks, so recall@100 compares with docs/evaluation.md
POOL = ranker_module.CANDIDATES  # 50: each side's top rows that go into the fusion
DEPTHS = (50, 100, 200)  # f) first-stage depth per side for long questions
MIN_PIECE = 6  # syllables: a shorter sentence ("Xin cảm ơn!") is joined to its neighbour
FB_DOCS, FB_TERMS, FB_ORIGINAL = 10, 20, 0.5  # RM3 as Anserini's defaults, 20 tokens as a syllable has two forms
ROCCHIO_DOCS, ROCCHIO_BETA = 5, 0.5  # d) q + 0.5 * mean of the top 5 passage vectors
TIMING_EVERY = 5  # costs are measured on every 5th question
METRICS = {"hit@1": "hit_rate@1", "mrr@10": "mrr@10", "recall@10": "recall@10", "recall@100": "recall@100"}

_SENTENCE_END = re.compile(r"(?<=[.!?…;])\s+|\s*\n+\s*")


@dataclass(frozen=True)
class Spec:
    """One first-stage variant."""
    name: str
    pieces: str = ""  # "max" | "mean": the dense side from the question's sentences (long questions only)
    rm3: bool = False
    rocchio: bool = False
    filler: str = ""  # "bm25" | "dense" | "both": fillers dropped before that side
    long_only: bool = False  # rm3, rocchio and filler only for long questions too


BASELINE = Spec("a) baseline")
SPECS = (BASELINE, Spec("b) sentences, max", pieces="max"), Spec("b) sentences, mean", pieces="mean"),
         Spec("c) BM25 + RM3", rm3=True), Spec("d) dense Rocchio", rocchio=True),
         Spec("e) fillers, BM25", filler="bm25"), Spec("e) fillers, dense", filler="dense"),
         Spec("e) fillers, both", filler="both"),
         Spec("g) fillers + RM3, long only", rm3=True, filler="both", long_only=True),
         Spec("g) fillers, both, long only", filler="both", long_only=True),
         Spec("g) fillers, BM25, long only", filler="bm25", long_only=True))
DEPTH_SPECS = (BASELINE, SPECS[-1])  # f) over the baseline and over the best combination of a) to e)


def question_pieces(text: str, min_syllables: int = MIN_PIECE) -> list[str]:
    """The question's sentences; one shorter than min_syllables is joined to the one before it (the first
    to the one after), so that "Xin cảm ơn!" is never a query of its own."""
    pieces: list[str] = []
    for sentence in filter(None, (s.strip() for s in _SENTENCE_END.split(text))):
        if pieces and min(syllable_count(sentence), syllable_count(pieces[-1])) < min_syllables:
            pieces[-1] += " " + sentence
        else:
            pieces.append(sentence)
    return pieces or [text]


def rm3_weights(tokens: list[str], feedback: list[tuple[float, dict[str, float]]], terms: int = FB_TERMS,
                original: float = FB_ORIGINAL) -> dict[str, float]:
    """RM3 query: `original` x the query's token distribution + (1 - original) x the `terms` best tokens of
    the feedback: (first-pass score, {token: its BM25 weight there, idf x saturated tf}) per passage; a passage
    weighs by its share of the scores, a token by its share of the passage's weight."""
    weights = {t: original * c / len(tokens) for t, c in Counter(tokens).items()}
    total, relevance = sum(s for s, _ in feedback), Counter()
    for score, passage in feedback:
        mass = sum(passage.values())
        for token, w in passage.items() if mass > 0 and total > 0 else ():
            relevance[token] += (score / total) * (w / mass)
    best = relevance.most_common(terms)
    norm = sum(w for _, w in best)
    for token, w in best:
        weights[token] = weights.get(token, 0.0) + (1 - original) * w / norm
    return weights


def rocchio(vector: np.ndarray, feedback: np.ndarray, beta: float = ROCCHIO_BETA) -> np.ndarray:
    """q + beta * mean(feedback vectors), L2-normalized."""
    moved = vector + beta * np.asarray(feedback, dtype=np.float32).mean(axis=0)
    return (moved / np.linalg.norm(moved)).astype(np.float32)


def pool_recall(qrels: dict[str, dict[str, int]], pools: dict[str, set[str]]) -> float:
    """Mean share of each question's relevant documents that the pool holds."""
    shares = [sum(1 for d, s in gold.items() if s > 0 and d in pools.get(q, ())) / sum(s > 0 for s in gold.values())
              for q, gold in qrels.items()]
    return float(np.mean(shares)) if shares else 0.0


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def as_read(text: str) -> Query:
    """A Query whose word matching reads `text` as given: the variant, not the product's own filler rule
    (tracuu.core.fillers, which came out of this study), decides what BM25 sees."""
    query = Query(text)
    query.lexical_text = text
    return query


class Lab:
    """One evaluation index and the query encoder. Encodings, token lists and cleaned questions are
    computed once per run and remembered with what they cost."""

    def __init__(self, reader: IndexReader, encoder, restore: bool = True):
        self.reader, self.encoder = reader, encoder
        self.restore = reader.diacritics.restore if restore and reader.diacritics is not None else str
        self.doc_of = [p.doc_id for p in reader.passages(list(range(reader.size)))]
        scores = reader.lexical.bm25.scores  # token-major CSR: token -> passage rows, BM25 weights
        indptr = np.asarray(scores["indptr"])
        self.terms = csr_matrix((np.asarray(scores["data"]), np.asarray(scores["indices"]), indptr),
                                shape=(len(indptr) - 1, reader.size))
        self.by_row = self.terms.T.tocsr()  # passage -> tokens (an index-time structure in a product)
        self.names = {i: token for token, i in reader.lexical.vocab.items()}
        self.memo: dict[tuple, tuple[object, float]] = {}

    def _remember(self, key: tuple, compute):
        if key not in self.memo:
            start = time.perf_counter()
            self.memo[key] = (compute(), _ms(start))
        return self.memo[key]

    def encode(self, texts: tuple[str, ...]) -> tuple[np.ndarray, float]:
        """Vectors of texts encoded in one call (diacritics restored first, as the server does)."""
        return self._remember(("encode", texts), lambda: np.asarray(
            self.encoder.encode_queries([self.restore(t) for t in texts]), dtype=np.float32))

    def tokens(self, text: str) -> tuple[tuple[str, ...], float]:
        return self._remember(("tokens", text), lambda: as_read(text).tokens)

    def clean(self, text: str) -> tuple[str, float]:
        return self._remember(("clean", text), lambda: drop_fillers(text))

    def docs(self, rows) -> list[str]:
        return [d.doc_id for d in dedupe_documents((self.doc_of[r], 0.0, "") for r in rows)]

    def by_pieces(self, vectors: np.ndarray, how: str, depth: int) -> Hits:
        """Passages by the max (over the union of each piece's top) or the mean of their piece cosines."""
        if how == "mean":
            return self.reader.dense.search(vectors.mean(axis=0), depth)
        rows = np.unique(np.concatenate([self.reader.dense.search(v, depth).rows for v in vectors]))
        best = (self.reader.dense.vectors(rows) @ vectors.T).max(axis=1)
        top = np.argsort(-best, kind="stable")[:depth]
        return Hits(rows[top], best[top])

    def rm3(self, tokens: tuple[str, ...], first: Hits, depth: int) -> Hits:
        """BM25 again for the RM3 query of the first pass's top FB_DOCS, each token scored by its weight."""
        lines = [(self.by_row[row], score) for row, score in zip(first.rows[:FB_DOCS], first.scores[:FB_DOCS])]
        feedback = [(float(s), {self.names[i]: float(w) for i, w in zip(line.indices, line.data)}) for line, s in lines]
        weights = rm3_weights(list(self.reader.lexical.usable(tokens)), feedback)
        ids = [self.reader.lexical.vocab[t] for t in weights]
        scores = np.asarray(self.terms[ids].T @ np.array([weights[t] for t in weights])).ravel()
        top = np.argsort(-scores, kind="stable")[:depth]
        top = top[scores[top] > 0]
        return Hits(top.astype(np.int64), scores[top].astype(np.float32))


@dataclass
class Stage:
    """One question's first stage: each side's hits, the BM25 tokens, the whole question's vector, cost."""
    dense: Hits
    lexical: Hits
    text: str  # what BM25 read
    tokens: tuple[str, ...]
    vector: np.ndarray
    ms: float


def first_stage(lab: Lab, text: str, spec: Spec, depth: int = DEPTH) -> Stage:
    """Each side's top `depth` for the question under `spec`, with its cost: the remembered cost of
    cleaning, tokenizing and encoding, plus the searches timed now."""
    long = is_long(text)
    applies = long or not spec.long_only  # long_only: rm3, rocchio and fillers for long questions only
    cleaned, cost = lab.clean(text) if applies and spec.filler else (text, 0.0)
    dense_text = cleaned if spec.filler in ("dense", "both") else text
    lexical_text = cleaned if spec.filler in ("bm25", "both") else text
    (vectors, ms1), (tokens, ms2) = lab.encode((dense_text,)), lab.tokens(lexical_text)
    pieces = question_pieces(dense_text) if spec.pieces and long else []
    piece_vectors, ms3 = lab.encode(tuple(pieces)) if len(pieces) > 1 else (None, 0.0)
    start = time.perf_counter()
    dense = (lab.by_pieces(piece_vectors, spec.pieces, depth) if piece_vectors is not None
             else lab.reader.dense.search(vectors[0], depth))
    if spec.rocchio and applies:
        feedback = lab.reader.dense.vectors(dense.rows[:ROCCHIO_DOCS])
        dense = lab.reader.dense.search(rocchio(vectors[0], feedback), depth)
    lexical = lab.reader.lexical.search(tokens, depth)
    if spec.rm3 and applies and len(lexical):
        lexical = lab.rm3(tokens, lexical, depth)
    return Stage(dense, lexical, lexical_text, tokens, vectors[0], cost + ms1 + ms2 + ms3 + _ms(start))


def fuse(lab: Lab, stage: Stage, n: int | None = None) -> list[int]:
    """Weighted RRF of each side's top n, as server.search does (dense alone when BM25 has nothing)."""
    dense, lexical = stage.dense.rows[:n].tolist(), stage.lexical.rows[:n].tolist()
    if not lexical:
        return dense
    weight = LEXICAL_WEIGHT * lab.reader.lexical.known_share(stage.tokens)
    return [row for row, _ in reciprocal_rank_fusion([dense, lexical], [1.0, weight])]


def learned_order(lab: Lab, ranker: LearnedFusion, stage: Stage) -> list[tuple[int, float]]:
    """The shipped ranker over the stage's lists, called as server.search calls it (hybrid mode)."""
    if not len(stage.lexical):
        return stage.dense.pairs()
    known = lab.reader.lexical.known_share(stage.tokens)
    return ranker.rank(lab.reader, as_read(stage.text), stage.vector, stage.dense, stage.lexical, LEXICAL_WEIGHT * known,
                       known, [(r, 0.0) for r in fuse(lab, stage)])


def scores(qrels, rankings: dict[str, list[str]], long_ids: list[str]) -> dict[str, float]:
    found = compute_metrics(qrels, rankings, METRICS.values())
    out = {ours: round(found[theirs], 4) for ours, theirs in METRICS.items()}
    long = compute_metrics({q: qrels[q] for q in long_ids}, rankings, ["recall@100"]) if long_ids else {}
    return {**out, "recall@100 long": round(long.get("recall@100", float("nan")), 4)}


def run_spec(lab: Lab, data, spec: Spec) -> dict:
    lists, pools = {"dense": {}, "bm25": {}, "fused": {}}, {}  # side -> question -> documents; question -> pool
    for qid, text in data.queries.items():
        stage = first_stage(lab, text, spec)
        lists["dense"][qid], lists["bm25"][qid] = lab.docs(stage.dense.rows), lab.docs(stage.lexical.rows)
        lists["fused"][qid] = lab.docs(fuse(lab, stage))
        pools[qid] = set(lab.docs(stage.dense.rows[:POOL])) | set(lab.docs(stage.lexical.rows[:POOL]))
    long_ids = [q for q, t in data.queries.items() if is_long(t)]
    return {"sides": {side: scores(data.qrels, ranking, long_ids) for side, ranking in lists.items()},
            "pool@50": round(pool_recall(data.qrels, pools), 4),
            "first": {q: bool(docs) and data.qrels[q].get(docs[0], 0) > 0 for q, docs in lists["fused"].items()}}


def timing(lab: Lab, data, every: int = TIMING_EVERY) -> tuple[dict[str, float], float]:
    """Extra first-stage ms per query of each variant over the baseline, and the baseline's, on every `every`-th
    question; nothing remembered, the variants taking turns question by question (the machine is shared)."""
    costs: dict[str, list[float]] = {spec.name: [] for spec in SPECS}
    for text in list(data.queries.values())[::every]:
        for spec in SPECS:
            lab.memo.clear()
            stage = first_stage(lab, text, spec)
            start = time.perf_counter()
            fuse(lab, stage)
            costs[spec.name].append(stage.ms + _ms(start))
    base = float(np.mean(costs[BASELINE.name]))
    return {name: round(float(np.mean(c)) - base, 2) for name, c in costs.items()}, round(base, 2)


def depth_study(lab: Lab, data, ranker: LearnedFusion | None) -> tuple[list[dict], float]:
    """f) each side's top n for long questions (POOL for the others): recall of that pool, recall@100 and
    @200 of its RRF list, the shipped ranker over it (CANDIDATES set to n), and the fusion's extra ms over
    n = 50 (fusion and ranker only; the depths take turns question by question)."""
    keys = [(spec.name, n) for spec in DEPTH_SPECS for n in DEPTHS]
    fused, learned, costs = ({key: {} for key in keys} for _ in range(3))
    for qid, text in data.queries.items():
        for spec in DEPTH_SPECS:
            stage = first_stage(lab, text, spec)
            for n in (DEPTHS[-1], *DEPTHS):  # the first call fills the ranker's passage cache: costs are warm
                k, start = (n if is_long(text) else POOL), time.perf_counter()
                fused[spec.name, n][qid] = lab.docs(fuse(lab, stage, k))
                if ranker is not None:
                    ranker_module.CANDIDATES = k
                    learned[spec.name, n][qid] = lab.docs([r for r, _ in learned_order(lab, ranker, stage)])
                costs[spec.name, n][qid] = _ms(start)
    ranker_module.CANDIDATES = POOL
    rows, long_ids = [], [q for q, t in data.queries.items() if is_long(t)]
    for name, n in keys:
        found = compute_metrics(data.qrels, fused[name, n], ["recall@100", "recall@200"])
        rows.append({"variant": name, "depth": n, "pool": round(pool_recall(data.qrels, {
            q: set(docs) for q, docs in fused[name, n].items()}), 4), "rrf recall@100": round(found["recall@100"], 4),
            "rrf recall@200": round(found["recall@200"], 4), "ms": float(np.mean(list(costs[name, n].values())))})
        if learned[name, n]:
            rows[-1]["learned"] = scores(data.qrels, learned[name, n], long_ids)
    base = rows[0]["ms"]
    for row in rows:
        row["ms"] = round(row["ms"] - base, 2)
    return rows, round(base, 2)


def study(name: str, split: str, limit: int | None, settings: Settings, encoders, cache, ranker) -> dict:
    """The set's evaluation index, opened as `tracuu eval` opens it, and every variant over it."""
    data = load_dataset(settings.benchmarks / name, split, limit)
    info = ensure_index(data, encoders[0], cache, settings.home)
    lab = Lab(IndexReader(info.index_dir), encoders[1], settings.restore_diacritics)
    lab.encode(("khởi động",)), lab.tokens("khởi động"), lab.clean("khởi động")  # first calls load models
    report = {"queries": len(data.queries), "long": sum(map(is_long, data.queries.values())), "variants": {}}
    for spec in SPECS:
        report["variants"][spec.name] = run_spec(lab, data, spec)
        print(f"{name}: {spec.name} done", file=sys.stderr)
    base = report["variants"][BASELINE.name]["first"]
    for result in report["variants"].values():  # questions whose fused first document became right / wrong
        first = result.pop("first")
        result["won"], result["lost"] = sum(first[q] > base[q] for q in base), sum(first[q] < base[q] for q in base)
    report["depth"], report["depth_baseline_ms"] = depth_study(lab, data, ranker)
    extra, report["baseline_ms"] = timing(lab, data)
    for spec_name, ms in extra.items():
        report["variants"][spec_name]["ms"] = ms
    return report


def markdown(name: str, report: dict) -> str:
    lines = [f"### {name}: {report['queries']} questions, {report['long']} over {LONG} syllables", "",
             "| variant | side | hit@1 | MRR@10 | R@10 | R@100 | R@100 long | pool@50 | ±@1 | ms |", "|---" * 10 + "|"]
    for variant, result in report["variants"].items():
        for side, m in result["sides"].items():
            extra = (f"{result['pool@50']:.3f} | +{result['won']}/-{result['lost']} | {result['ms']:+.1f}"
                     if side == "fused" else " | | ")
            lines.append(f"| {variant} | {side} | " + " | ".join(f"{v:.3f}" for v in m.values()) + f" | {extra} |")
    lines += ["", "| f) variant | depth (long) | pool | RRF R@100 | RRF R@200 | learned hit@1 / MRR@10 / R@100 | ms |",
              "|---" * 7 + "|"]
    for row in report["depth"]:
        m = row.get("learned", {})
        learned = " / ".join(f"{m[k]:.3f}" for k in ("hit@1", "mrr@10", "recall@100")) if m else ""
        lines.append(f"| {row['variant']} | {row['depth']} | {row['pool']:.3f} | {row['rrf recall@100']:.3f} | "
                     f"{row['rrf recall@200']:.3f} | {learned} | {row['ms']:+.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m eval.long_questions", description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", help="split of uit-vicov19qa (uit-regulations-qa: always dev)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions of each set")
    parser.add_argument("--no-learned", action="store_true", help="skip the shipped ranker in f)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    settings, _ = Settings(), set_search_threads()
    encoders, cache = settings_encoders(settings), EmbeddingCache(settings.embedding_cache)
    ranker = None if args.no_learned else LearnedFusion.load()
    report = {"date": time.strftime("%Y-%m-%d"), "long_threshold": LONG, "depth": DEPTH, "sets": {}}
    for name, split in ((name, split or args.split) for name, split in SETS):
        report["sets"][f"{name}/{split}"] = study(name, split, args.limit, settings, encoders, cache, ranker)
    if args.json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        for name, result in report["sets"].items():
            print(markdown(name, result) + "\n")
    return report


if __name__ == "__main__":
    main()
