"""Answer sentences inside retrieved passages, and the answerable / not-answerable signal."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tracuu.core.registry import Entry
from tracuu.core.store import IndexReader
from tracuu.core.textnorm import fold, has_diacritics, syllable_tokens

OVERLAP_WEIGHT = 0.3
# Coverage of a passage that lacks a number the question names: below "no word found", since a passage
# on "Đoàn kiểm tra số 3" speaks against an answer about "số 5" (docs/quality.md, step 16).
MISMATCH = -1.0

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
    coverage: float  # share of the question's content words found in the answer's passage (MISMATCH: a
    # number it names is missing)
    states: bool = False  # it names the document the question asks about and holds what was asked


# Candidate sentences come back query after query: normalizing them is most of an answer's cost.
@lru_cache(maxsize=65_536)
def _terms(text: str, folded: bool) -> frozenset[str]:
    return frozenset(syllable_tokens(text, folded=folded))


@lru_cache(maxsize=2)
def _function_words(folded: bool) -> frozenset[str]:
    return frozenset(syllable_tokens(w, folded=folded)[0] for w in FUNCTION_WORDS)


# "số 5": a number used as an identifier (Đoàn kiểm tra số 5, Kế hoạch số 139), read on folded text.
_IDENTIFIER = re.compile(r"\bso\s+0*(\d+)\b")


def _unpadded(number: str) -> str:
    return number.lstrip("0") or "0"


def _identifiers(text: str) -> frozenset[str]:
    return frozenset(_IDENTIFIER.findall(fold(text).lower()))


class QueryTerms:
    """The query's words, compared accent-aware when the user typed accents, folded otherwise."""

    def __init__(self, query: str):
        self.folded = not has_diacritics(query)
        self.all = _terms(query, self.folded)
        self.content = self.all - _function_words(self.folded)
        self.numbers = {_unpadded(t) for t in self.content if t.isdigit()}
        self.identifiers = _identifiers(query)

    def overlap(self, text: str) -> float:
        return len(self.all & _terms(text, self.folded)) / len(self.all) if self.all else 0.0

    def coverage(self, text: str) -> float:
        """Share of content words present; a number the question names must be there to count at all, and
        as "số N" where the question says "số N" (a passage on "Đoàn kiểm tra số 3 … 5 năm" does not answer
        a question on "Đoàn kiểm tra số 5")."""
        if not self.content:
            return 0.0
        present = _terms(text, self.folded)
        if not self.numbers <= {_unpadded(t) for t in present if t.isdigit()}:
            return MISMATCH
        if self.identifiers and not self.identifiers <= _identifiers(text):
            return MISMATCH
        return len(self.content & present) / len(self.content)


def best_answer(
    query_vector: np.ndarray, terms: QueryTerms, doc_text: str, passage: tuple[int, int],
    spans: list[tuple[int, int]], vectors: np.ndarray, asked: "NamedQuestion | None" = None,
) -> Answer | None:
    """The unit (sentence) of a passage scoring best on cosine to the question plus word overlap; for a
    question about a named document (`asked`), units that name it and hold what is asked come first."""
    if not spans:
        return None
    cosines = vectors @ query_vector
    scores = [float(c) + OVERLAP_WEIGHT * terms.overlap(doc_text[s:e]) for c, (s, e) in zip(cosines, spans)]
    states = [asked.stated_by(doc_text[s:e]) if asked else False for s, e in spans]
    # Next, a unit that introduces the document (its number, then its date) comes before one that cites it;
    # this also orders units when none states what was asked.
    introduces = [asked.introduced_by(doc_text[s:e]) if asked else False for s, e in spans]
    best = max(range(len(spans)), key=lambda i: (states[i], introduces[i], scores[i]))  # ties: the first unit
    start, end = spans[best]
    coverage = terms.coverage(doc_text[passage[0]:passage[1]])
    return Answer(text=doc_text[start:end], start=start, end=end, score=scores[best], coverage=coverage,
                  states=states[best])


# What a question about a named document asks for, read on its accent-free text.
_ASKS_DATE = re.compile(r"\b(ngay nao|khi nao|bao gio|nam nao|thoi gian nao|luc nao|thoi diem nao|ngay bao nhieu)\b")
_ASKS_ISSUER = re.compile(r"\b(ai ban hanh|do ai|cua ai|ai ky|co quan nao|ai ra|don vi nao|noi nao ban hanh)\b")
_DATE = re.compile(r"\d{1,2}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{4}|ngay\s+\d{1,2}\s+thang\s+\d{1,2}")
_INTRODUCED_WITHIN = 60  # characters from a document's number to its date ("58-QĐ/TW được … ban hành ngày 8-2-2022")


def _number_tokens(text: str) -> set[str]:
    return {_unpadded(t) for t in syllable_tokens(text, folded=True) if t.isdigit()}


@dataclass(frozen=True)
class NamedQuestion:
    """A question about registered documents ("Quy định 58 ban hành ngày nào?"): a unit states the answer
    when it names one of them (its number) and, when the question asks for the date or the issuer,
    holds a date or that issuer."""

    numbers: frozenset[str]
    issuers: tuple[str, ...]
    date: bool
    issuer: bool

    @classmethod
    def of(cls, entries: list[Entry], question: str) -> "NamedQuestion":
        asked = fold(question).lower()
        return cls(frozenset(_unpadded(n) for e in entries if e.number for n in _number_tokens(e.number)),
                   tuple(fold(e.issuer).lower() for e in entries if e.issuer),
                   bool(_ASKS_DATE.search(asked)), bool(_ASKS_ISSUER.search(asked)))

    def introduced_by(self, unit: str) -> bool:
        """The unit gives the document with its date, as where it is introduced ("Quy định số 126-QĐ/TW,
        ngày 28/02/2018 của Bộ Chính trị"), not as cited by another ("Hướng dẫn số 19, ngày 12/9/2019 …
        thực hiện Quy định số 126")."""
        folded = fold(unit).lower()
        return any(_DATE.search(folded[m.end():m.end() + _INTRODUCED_WITHIN])
                   for n in self.numbers for m in re.finditer(rf"(?<!\d)0*{n}(?!\d)", folded))

    def stated_by(self, unit: str) -> bool:
        if not self.numbers & _number_tokens(unit):
            return False
        folded = fold(unit).lower()
        if self.date and not _DATE.search(folded):
            return False
        return not self.issuer or any(i in folded for i in self.issuers)


@dataclass(frozen=True)
class Calibration:
    """Logistic model over the best answer score and the best coverage among a question's top passages.
    The coefficients are fitted by `python -m eval.calibrate` (grouped cross-validation over the gold
    questions and uit-regulations-qa questions asked of corpora that do and do not hold their answers;
    docs/quality.md), then copied here."""

    # python -m eval.calibrate, 2026-12-04 (out/eval/calibration/calibration.json, rounded)
    bias: float = -22.99
    w_score: float = 21.15
    w_coverage: float = 2.86

    @staticmethod
    def features(answers: list[Answer]) -> tuple[float, float]:
        return max(a.score for a in answers), max(a.coverage for a in answers)

    def confidence(self, answers: list[Answer]) -> float:
        score, coverage = self.features(answers)
        z = self.bias + self.w_score * score + self.w_coverage * coverage
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


# Confidence when a sentence names the asked-about document and holds what was asked: high, not
# certain (the sentence may still be about another aspect of it).
STATED_CONFIDENCE = 0.95


def answer_hits(reader: IndexReader, hits: list, vector: np.ndarray, question: str, named: list[Entry],
                calibration: Calibration) -> tuple[bool, float]:
    """Give each hit its best answer sentence; return (answerable, confidence). `question` is the text
    the sentences are matched against (without document references); `named`: the registered documents
    the question names. A sentence that names one and holds what was asked (its date, its issuer) answers
    with STATED_CONFIDENCE; otherwise the calibrated score decides, as for any question."""
    terms = QueryTerms(question)
    asked = NamedQuestion.of(named, question) if named else None
    texts: dict[str, str] = {}
    for hit in hits:
        doc_id = hit.passage.doc_id
        if doc_id not in texts:
            texts[doc_id] = reader.document_text(doc_id)
        spans, vectors = reader.units(hit.passage.row)
        hit.answer = best_answer(vector, terms, texts[doc_id], (hit.passage.start, hit.passage.end), spans, vectors,
                                 asked)
    answers = [h.answer for h in hits if h.answer]
    if not answers:
        return False, 0.0
    if any(a.states for a in answers):
        return True, STATED_CONFIDENCE
    confidence = calibration.confidence(answers)
    return confidence >= 0.5, confidence
