"""Evaluate on the project's gold questions (eval/gold.jsonl, see eval/README.md) over the seed corpus.

A retrieved passage answers a question when it contains one of the question's answer strings (they are
copied verbatim from the answering line). hit@k = some passage among the first k answers; it is not
defined for unanswerable questions. The `answerable` signal of each result is scored too: correct when
True for answerable questions, when False for unanswerable ones.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from eval.beir import QueryMemo
from eval.indexes import (EvalError, IndexInfo, cached_index, describe, file_digest, index_key, progress_bar,
                          settings_fingerprint)
from eval.report import write_json, write_jsonl
from indexer.build import build_index
from indexer.documents import SUFFIXES
from indexer.embedding_cache import EmbeddingCache
from indexer.passages import MAX_CHARS
from tracuu.core.store import FORMAT_VERSION
from tracuu.core.textnorm import nfc
from server.search import BadQuery, Searcher

K = 5
KEYS = {"id", "kind", "question", "answers", "doc"}


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    question: str
    answers: tuple[str, ...]
    doc: str | None

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_gold(path: Path) -> list[Question]:
    if not path.is_file():
        raise EvalError(f"không có tệp câu hỏi vàng {path}")
    questions = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise EvalError(f"{path}, dòng {number}: không phải JSON ({exc})") from None
            if not isinstance(row, dict) or not KEYS <= row.keys():
                raise EvalError(f"{path}, dòng {number}: cần các trường {', '.join(sorted(KEYS))}")
            questions.append(Question(str(row["id"]), str(row["kind"]), str(row["question"]),
                                      tuple(str(a) for a in row["answers"] or ()), row["doc"]))
    if not questions:
        raise EvalError(f"{path} không có câu hỏi nào")
    return questions


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    text = nfc(text)
    return any(nfc(a) in text for a in answers)


def ensure_seed_index(
    corpus_dir: Path, encoder, cache: EmbeddingCache, home: Path,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> IndexInfo:
    """The seed corpus indexed like `tracuu index` does (answer units included), cached by content."""
    if not corpus_dir.is_dir():
        raise EvalError(f"không có thư mục tài liệu {corpus_dir}")
    files = sorted(p for p in corpus_dir.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts))
    listing = "\n".join(f"{p.relative_to(corpus_dir).as_posix()} {file_digest(p)}" for p in files)
    settings = settings_fingerprint(max_chars=MAX_CHARS, answer_units=True, store_format=FORMAT_VERSION)
    key = index_key(listing, encoder.vectors_id, settings)
    index_dir = home / "eval-index" / f"gold-{key}"

    def build() -> dict:
        try:
            report = build_index(corpus_dir, index_dir, encoder, cache, on_progress)
        except ValueError as exc:
            raise EvalError(str(exc)) from None
        return {"documents": report.documents, "passages": report.passages, "embedded": report.embedded,
                "skipped": len(report.skipped)}

    return cached_index(index_dir, key, build)


@dataclass
class Outcome:
    question: Question
    ranks: list[bool]  # per returned passage (up to K): does it contain an answer
    answerable: bool
    confidence: float
    top: list[dict]  # the first passages, for failures.jsonl
    sentence: str | None = None  # the answer sentence the first passage shows highlighted

    def hit(self, k: int) -> bool:
        return any(self.ranks[:k])

    @property
    def sentence_hit(self) -> bool:
        """The highlighted sentence of the first passage holds an answer: what a reader sees first is right."""
        return self.sentence is not None and contains_answer(self.sentence, self.question.answers)


def ask(searcher: Searcher, question: Question, mode: str) -> Outcome:
    try:
        result = searcher.search(question.question, K, mode, answers=True)
    except BadQuery:
        return Outcome(question, [], False, 0.0, [])
    return Outcome(
        question=question,
        ranks=[contains_answer(h.passage.text, question.answers) for h in result.hits],
        answerable=bool(result.answerable),
        confidence=float(result.confidence),
        top=[{"passage": h.passage.id, "text": h.passage.text[:200] + ("…" if len(h.passage.text) > 200 else "")}
             for h in result.hits[:3]],
        sentence=result.hits[0].answer.text if result.hits and result.hits[0].answer else None,
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarize(outcomes: list[Outcome]) -> dict:
    """hit@1, hit@5 and sentence@1 (the first passage's highlighted sentence holds the answer) per kind and
    overall (answerable questions only), and the answerable signal."""
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]

    def hits(group: list[Outcome]) -> dict:
        return {"questions": len(group), "hit@1": _mean([float(o.hit(1)) for o in group]),
                "hit@5": _mean([float(o.hit(5)) for o in group]),
                "sentence@1": _mean([float(o.sentence_hit) for o in group])}

    kinds = sorted({o.question.kind for o in answerable})
    return {
        "kinds": {kind: hits([o for o in answerable if o.question.kind == kind]) for kind in kinds},
        "overall": hits(answerable),
        "answerable_signal": {
            "answerable": {"questions": len(answerable), "accuracy": _mean([float(o.answerable) for o in answerable]),
                           "mean_confidence": _mean([o.confidence for o in answerable])},
            "unanswerable": {"questions": len(unanswerable),
                             "accuracy": _mean([float(not o.answerable) for o in unanswerable]),
                             "mean_confidence": _mean([o.confidence for o in unanswerable])},
        },
    }


def failures(mode: str, outcomes: list[Outcome]) -> list[dict]:
    """Answerable questions missed at rank 1 (or found there with another sentence highlighted), and
    questions whose answerable signal is wrong."""
    rows = []
    for o in outcomes:
        q = o.question
        reasons = []
        if q.answerable and not o.hit(1):
            reasons.append("miss@1" if o.hit(K) else f"miss@{K}")
        elif q.answerable and not o.sentence_hit:
            reasons.append("other_sentence")
        if o.answerable != q.answerable:
            reasons.append("answerable_wrong")
        if reasons:
            rows.append({"mode": mode, "id": q.id, "kind": q.kind, "question": q.question, "answers": list(q.answers),
                         "doc": q.doc, "reasons": reasons, "answerable": o.answerable,
                         "confidence": round(o.confidence, 4),
                         "hit_rank": next((r for r, ok in enumerate(o.ranks, 1) if ok), None),
                         "sentence": o.sentence, "top": o.top})
    return rows


def evaluate_gold(
    gold: Path, questions: list[Question], modes: Sequence[str], corpus_dir: Path, encoder,
    cache: EmbeddingCache, home: Path, out_dir: Path, console: Console, query_encoder=None, ranker=None, restore: bool = True,
) -> dict:
    """The gold questions against the seed corpus, indexed with encoder and asked with query_encoder
    (default: encoder)."""
    with progress_bar(console, "Nhúng đoạn văn") as update:
        info = ensure_seed_index(corpus_dir, encoder, cache, home, lambda stage, done, total: update(done, total))
    console.print(describe(info), highlight=False, soft_wrap=True)
    searcher = Searcher(info.index_dir, QueryMemo(query_encoder or encoder), ranker, restore=restore)  # each question encoded once for all modes
    report: dict = {"gold": str(gold), "questions": len(questions), "modes": {}}
    rows: list[dict] = []
    seconds = {}
    for mode in modes:
        started = time.perf_counter()
        outcomes = []
        with progress_bar(console, f"Hỏi ({mode})") as update:
            for n, question in enumerate(questions, 1):
                outcomes.append(ask(searcher, question, mode))
                update(n, len(questions))
        seconds[mode] = round(time.perf_counter() - started, 2)
        report["modes"][mode] = summarize(outcomes)
        rows += failures(mode, outcomes)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_dir / "failures.jsonl", rows)
    write_json(out_dir / "report.json", {**report, "details": {
        "corpus_dir": str(corpus_dir.resolve()), "index": info.to_json(), "k": K, "seconds": seconds,
        "files": {"report": "report.json", "failures": "failures.jsonl"}}})
    return report
