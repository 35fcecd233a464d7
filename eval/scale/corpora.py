"""The N-passage corpora made from the base data: noisy copies of real vectors, recombined real sentences.

Both are seeded by position (chunks of CHUNK rows), so the first n rows of a bigger corpus are the n-row corpus.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CHUNK = 65_536  # rows generated per seeded chunk: the first n rows of a bigger corpus are the n-row corpus


def noisy(base: np.ndarray, sources: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    out = base[sources] + sigma * rng.standard_normal((len(sources), base.shape[1]), dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def dense_corpus(base: np.ndarray, n: int, sigma: float) -> np.ndarray:
    """n vectors: the real ones first, then noisy copies (row i copies base row i mod B)."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    real = min(n, len(base))
    out[:real] = base[:real]
    for begin in range(real, n, CHUNK):
        end = min(n, begin + CHUNK)
        out[begin:end] = noisy(base, np.arange(begin, end) % len(base), sigma, np.random.default_rng([7, begin]))
    return out


class RecombinedTokens(Sequence):
    """Token lists of n passages: the real ones, then recombined ones, generated when read."""

    def __init__(self, sentences: list[list[str]], passages: list[list[int]], n: int, seed: int = 3):
        self.sentences = sentences
        rng = np.random.default_rng(seed)
        real = passages[:n]
        counts = [len(p) for p in real]
        extra = max(0, n - len(real))
        counts += [len(passages[i]) for i in rng.integers(len(passages), size=extra)]
        drawn = rng.integers(len(sentences), size=sum(counts[len(real):]))
        self.ids = np.concatenate([np.array([s for p in real for s in p], dtype=np.int64), drawn])
        self.offsets = np.concatenate([[0], np.cumsum(counts)])

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return [t for s in self.ids[self.offsets[i]:self.offsets[i + 1]].tolist() for t in self.sentences[s]]

    def token_ids(self, vocab: dict[str, int]) -> "RecombinedTokens":
        """The same passages as token ids (each used sentence converted once)."""
        used = set(np.unique(self.ids).tolist())
        view = RecombinedTokens.__new__(RecombinedTokens)
        view.ids, view.offsets = self.ids, self.offsets
        view.sentences = [[vocab[t] for t in tokens] if s in used else [] for s, tokens in enumerate(self.sentences)]
        return view
