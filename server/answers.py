"""Answer sentences inside retrieved passages, and the answerable / not-answerable signal."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tracuu.core.store import IndexReader
from tracuu.core.textnorm import has_diacritics, syllable_tokens

OVERLAP_WEIGHT = 0.3

# Words that shape a question but carry no content: a passage need not contain them to answer it.
FUNCTION_WORDS = set(
    "ai gì nào đâu sao bao nhiêu mấy khi là có không của các những được trong và với về cho tại từ đến theo "
    "này đó thì mà để như một do bởi hay hoặc vì nên đã đang sẽ rằng thế ra vào lên lúc năm ngày tháng".split()
)


@dataclass
class Answer:
    text: str
    start: int
    end: int
    score: float
    coverage: float  # share of the question's content words found in the answer's passage


# Candidate sentences come back query after query: normalizing them is most of an answer's cost.
@lru_cache(maxsize=65_536)
def _terms(text: str, folded: bool) -> frozenset[str]:
    return frozenset(syllable_tokens(text, folded=folded))


@lru_cache(maxsize=2)
def _function_words(folded: bool) -> frozenset[str]:
    return frozenset(syllable_tokens(w, folded=folded)[0] for w in FUNCTION_WORDS)


class QueryTerms:
    """The query's words, compared accent-aware when the user typed accents, folded otherwise."""

    def __init__(self, query: str):
        self.folded = not has_diacritics(query)
        self.all = _terms(query, self.folded)
        self.content = self.all - _function_words(self.folded)

    def overlap(self, text: str) -> float:
        return len(self.all & _terms(text, self.folded)) / len(self.all) if self.all else 0.0

    def coverage(self, text: str) -> float:
        """Share of content words present; a number the question names must be there to count at all."""
        if not self.content:
            return 0.0
        present = _terms(text, self.folded)
        if any(t.isdigit() and t not in present for t in self.content):
            return 0.0
        return len(self.content & present) / len(self.content)


def best_answer(
    query_vector: np.ndarray, terms: QueryTerms, doc_text: str, passage: tuple[int, int],
    spans: list[tuple[int, int]], vectors: np.ndarray,
) -> Answer | None:
    """The unit (sentence) of a passage scoring best on cosine to the question plus word overlap."""
    if not spans:
        return None
    cosines = vectors @ query_vector
    scores = [float(c) + OVERLAP_WEIGHT * terms.overlap(doc_text[s:e]) for c, (s, e) in zip(cosines, spans)]
    best = int(np.argmax(scores))
    start, end = spans[best]
    coverage = terms.coverage(doc_text[passage[0]:passage[1]])
    return Answer(text=doc_text[start:end], start=start, end=end, score=scores[best], coverage=coverage)


@dataclass(frozen=True)
class Calibration:
    """Logistic model over (answer score, coverage). The coefficients were set by hand on
    eval/gold.jsonl (docs/evaluation.md), so its accuracy there is measured on its own tuning data."""

    bias: float = -30.0
    w_score: float = 25.0
    w_coverage: float = 6.0

    def confidence(self, answer: Answer) -> float:
        z = self.bias + self.w_score * answer.score + self.w_coverage * answer.coverage
        return 1.0 / (1.0 + math.exp(-z))


def answer_hits(reader: IndexReader, hits: list, vector: np.ndarray, question: str, named: bool,
                calibration: Calibration) -> tuple[bool, float]:
    """Give each hit its best answer sentence; return (answerable, confidence). `question` is the text
    the sentences are matched against (without document references); `named`: the question names a
    registered document, whose citing passages answer it."""
    terms = QueryTerms(question)
    texts: dict[str, str] = {}
    for hit in hits:
        doc_id = hit.passage.doc_id
        if doc_id not in texts:
            texts[doc_id] = reader.document_text(doc_id)
        spans, vectors = reader.units(hit.passage.row)
        hit.answer = best_answer(vector, terms, texts[doc_id], (hit.passage.start, hit.passage.end), spans, vectors)
    if named:
        return True, 1.0
    answers = [h.answer for h in hits if h.answer]
    if not answers:
        return False, 0.0
    confidence = max(calibration.confidence(a) for a in answers)
    return confidence >= 0.5, confidence
