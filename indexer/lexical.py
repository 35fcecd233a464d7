"""The lexical side: a bm25s index over the token stream of `textnorm.lexical_tokens`.

bm25s's own tokenizer drops one-letter tokens and English stop words, which deletes real Vietnamese
syllables ("a", "an", "to", "no"), so tokens always come from textnorm.
"""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np

from indexer.textnorm import lexical_tokens, query_tokens

K1, B = 1.2, 0.75


class LexicalIndex:
    def __init__(self, bm25: bm25s.BM25):
        self.bm25 = bm25
        self.vocab = bm25.vocab_dict

    @classmethod
    def build(cls, texts: list[str]) -> "LexicalIndex":
        bm25 = bm25s.BM25(k1=K1, b=B)
        bm25.index([lexical_tokens(t) for t in texts], show_progress=False)
        return cls(bm25)

    def save(self, folder: Path) -> None:
        self.bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False))

    def usable_tokens(self, query: str) -> list[str]:
        """The query's tokens that occur somewhere in the corpus (the rest cannot score)."""
        return [t for t in query_tokens(query) if t in self.vocab]

    def known_share(self, query: str) -> float:
        """Share of the query's tokens that occur in the corpus."""
        tokens = query_tokens(query)
        return sum(t in self.vocab for t in tokens) / len(tokens) if tokens else 0.0

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the k best passages with a positive score, best first."""
        tokens = self.usable_tokens(query)
        if not tokens:
            return np.array([], dtype=np.int64), np.array([], dtype=np.float32)
        scores = self.bm25.get_scores(tokens)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return top.astype(np.int64), scores[top].astype(np.float32)
