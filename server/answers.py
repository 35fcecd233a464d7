"""Answer sentences inside retrieved passages, and the answerable / not-answerable signal."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from indexer.textnorm import syllable_tokens

OVERLAP_WEIGHT = 0.3
# Calibrated on the gold questions of eval/gold.jsonl (see eval/README.md): the best answer unit's
# score separates questions the corpus answers from those it cannot; confidence is 0.5 at THRESHOLD.
THRESHOLD = 0.90
SLOPE = 40.0


@dataclass
class Answer:
    text: str
    start: int
    end: int
    score: float


def overlap(query_terms: set[str], text: str) -> float:
    """Share of the query's (accent-folded) syllables that occur in text."""
    if not query_terms:
        return 0.0
    return len(query_terms & set(syllable_tokens(text, folded=True))) / len(query_terms)


def query_terms(query: str) -> set[str]:
    return set(syllable_tokens(query, folded=True))


def best_answer(
    query_vector: np.ndarray, terms: set[str], doc_text: str, spans: list[tuple[int, int]], vectors: np.ndarray
) -> Answer | None:
    if not spans:
        return None
    cosines = vectors @ query_vector
    scores = [float(c) + OVERLAP_WEIGHT * overlap(terms, doc_text[s:e]) for c, (s, e) in zip(cosines, spans)]
    best = int(np.argmax(scores))
    start, end = spans[best]
    return Answer(text=doc_text[start:end], start=start, end=end, score=scores[best])


def confidence(answer_score: float) -> float:
    """A 0-1 confidence that the top answer really answers the question."""
    return 1.0 / (1.0 + math.exp(-SLOPE * (answer_score - THRESHOLD)))
