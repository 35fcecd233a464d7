"""Combine ranked lists from the dense and lexical retrievers, and the one rule that puts rows first."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RRF_K = 60  # the constant from Cormack et al. (2009); larger flattens the rank weights
Ranked = list[tuple[int, float]]  # (row, score) best first


def rrf_term(rank, weight: float = 1.0, k: int = RRF_K):
    """One list's share of a row's RRF score (rank from 1); works on numbers and numpy arrays alike."""
    return weight / (k + rank)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> Ranked:
    """(row, fused score) best first; score = sum over lists of weight / (k + rank), rank from 1."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, row in enumerate(ranking, 1):
            fused[row] = fused.get(row, 0.0) + rrf_term(rank, weight, k)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def order_by(rows: Sequence[int], scores: np.ndarray) -> list[int]:
    """Indexes of rows by descending score; ties: lower row first, as reciprocal_rank_fusion sorts."""
    return np.lexsort((np.asarray(rows), -np.asarray(scores))).tolist()


def put_first(first: Ranked, ranked: Ranked) -> Ranked:
    """`first` (row, score within it) above everything in `ranked`, the rest of `ranked` after them.
    Scores stay comparable: each chosen row scores above the best of `ranked`."""
    top = max((s for _, s in ranked), default=0.0)
    chosen = {row for row, _ in first}
    return [(row, top + 1.0 + s) for row, s in first] + [(row, s) for row, s in ranked if row not in chosen]
