"""The lexical side: a bm25s index over the token stream of `textnorm.lexical_tokens`.

bm25s's own tokenizer drops one-letter tokens and English stop words, which deletes real Vietnamese
syllables ("a", "an", "to", "no"), so tokens always come from textnorm.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np

from indexer.textnorm import lexical_tokens, query_tokens

K1, B = 1.2, 0.75
# Bump when textnorm's token stream changes, so cached token lists are not reused.
TOKENS_VERSION = 1
_SEP = "\x1f"


@lru_cache(maxsize=4096)
def _query_tokens(query: str) -> tuple[str, ...]:
    """A search asks for the same query's tokens several times (retrieval, fusion weight, fast path),
    and pyvi's segmentation is the slow part."""
    return tuple(query_tokens(query))


class TokenCache:
    """SQLite table of text hash -> lexical tokens: pyvi segmentation is the slow part of a
    re-index, and an unchanged passage always segments the same way."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS tokens (key TEXT PRIMARY KEY, tokens TEXT)")

    @staticmethod
    def key(text: str) -> str:
        return f"{TOKENS_VERSION}:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        keys = [self.key(t) for t in texts]
        known: dict[str, list[str]] = {}
        for begin in range(0, len(keys), 500):
            chunk = keys[begin:begin + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT key, tokens FROM tokens WHERE key IN ({marks})", chunk)
            known.update((k, v.split(_SEP) if v else []) for k, v in rows)
        fresh = {k: lexical_tokens(t) for k, t in zip(keys, texts) if k not in known}
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO tokens VALUES (?, ?)",
                                [(k, _SEP.join(v)) for k, v in fresh.items()])
        known.update(fresh)
        return [known[k] for k in keys]

    def close(self) -> None:
        self.db.close()


class LexicalIndex:
    def __init__(self, bm25: bm25s.BM25):
        self.bm25 = bm25
        self.vocab = bm25.vocab_dict

    @classmethod
    def build(cls, texts: list[str], cache: TokenCache | None = None) -> "LexicalIndex":
        bm25 = bm25s.BM25(k1=K1, b=B)
        tokens = cache.tokenize(texts) if cache else [lexical_tokens(t) for t in texts]
        bm25.index(tokens, show_progress=False)
        return cls(bm25)

    def save(self, folder: Path) -> None:
        self.bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False))

    def usable_tokens(self, query: str) -> list[str]:
        """The query's tokens that occur somewhere in the corpus (the rest cannot score)."""
        return [t for t in _query_tokens(query) if t in self.vocab]

    def known_share(self, query: str) -> float:
        """Share of the query's tokens that occur in the corpus."""
        tokens = _query_tokens(query)
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
