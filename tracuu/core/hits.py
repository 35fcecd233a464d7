"""The one result type of both indexes: rows and scores, best first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Hits:
    rows: np.ndarray  # int64 passage rows
    scores: np.ndarray  # float, same length, descending

    @classmethod
    def empty(cls) -> "Hits":
        return cls(np.array([], dtype=np.int64), np.array([], dtype=np.float32))

    def __len__(self) -> int:
        return len(self.rows)

    def pairs(self) -> list[tuple[int, float]]:
        """[(row, score), …] best first: the shape fusion works on."""
        return list(zip(self.rows.tolist(), self.scores.tolist()))
