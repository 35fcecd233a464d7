"""Answer sentences inside retrieved passages, and the answerable / not-answerable signal."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from indexer.textnorm import has_diacritics, syllable_tokens

OVERLAP_WEIGHT = 0.3
CALIBRATION = Path(__file__).with_name("calibration.json")

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


@dataclass
class Calibration:
    """Logistic model over (answer score, coverage), fitted on the gold questions by `tracuu eval --gold`."""

    bias: float = -30.0
    w_score: float = 25.0
    w_coverage: float = 6.0

    @classmethod
    def load(cls, path: Path = CALIBRATION) -> "Calibration":
        if path.is_file():
            return cls(**json.loads(path.read_text(encoding="utf-8"))["coefficients"])
        return cls()

    def confidence(self, answer: Answer) -> float:
        z = self.bias + self.w_score * answer.score + self.w_coverage * answer.coverage
        return 1.0 / (1.0 + math.exp(-z))
