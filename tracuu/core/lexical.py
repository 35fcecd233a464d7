"""The lexical side: a bm25s index over the token stream of `textnorm.lexical_tokens`.

bm25s's own tokenizer drops one-letter tokens and English stop words, which deletes real Vietnamese
syllables ("a", "an", "to", "no"), so tokens always come from textnorm.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from types import SimpleNamespace

import bm25s
import numpy as np

from tracuu.core.hits import Hits
from tracuu.core.textnorm import lexical_tokens
from tracuu.core.topk import TopK

K1, B = 1.2, 0.75


class LexicalIndex:
    """bm25s over passage rows. Every search takes the query's tokens (`Query.tokens`), already
    segmented once per request; tokens the corpus lacks are ignored."""

    def __init__(self, bm25: bm25s.BM25):
        self.bm25 = bm25
        self.vocab = bm25.vocab_dict
        self._topk = TopK(*(bm25.scores[name] for name in ("data", "indices", "indptr")), self.passage_count)

    @classmethod
    def build(cls, tokens: Sequence[Sequence[str]]) -> "LexicalIndex":
        """From each passage's tokens (textnorm.lexical_tokens, usually through indexer's TokenCache)."""
        bm25 = bm25s.BM25(k1=K1, b=B)
        bm25.index([list(t) for t in tokens], show_progress=False)
        return cls(bm25)

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> "LexicalIndex":
        return cls.build([lexical_tokens(t) for t in texts])

    def save(self, folder: Path) -> None:
        self.bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False))

    def usable(self, tokens: Sequence[str]) -> list[str]:
        """The tokens that occur somewhere in the corpus (the rest cannot score)."""
        return [t for t in tokens if t in self.vocab]

    def known_share(self, tokens: Sequence[str]) -> float:
        """Share of the query's tokens that occur in the corpus."""
        return sum(t in self.vocab for t in tokens) / len(tokens) if tokens else 0.0

    def search(self, tokens: Sequence[str], k: int) -> Hits:
        """The k best passages with a positive score, best first (equal scores: lower row first). Scores
        are bm25s's `get_scores`, bit for bit; tracuu.core.topk finds the k best without reading most of
        the densest posting lists (1M passages: ~20 ms instead of ~55 ms)."""
        if getattr(self.bm25, "nonoccurrence_array", None) is not None:  # BM25L / BM25+: not our variant
            return self.search_bm25s(tokens, k)
        rows, scores = self._topk.search(np.asarray(self.token_ids(tokens), dtype=np.int64), k)
        return Hits(rows, scores.astype(np.float32))

    def search_bm25s(self, tokens: Sequence[str], k: int) -> Hits:
        """The former search: bm25s scores every passage (numpy), argpartition takes the top k (order
        among equal scores arbitrary). For comparison in the scaling study and the tests."""
        usable = self.usable(tokens)
        if not usable or k <= 0:
            return Hits.empty()
        scores = self.bm25.get_scores(usable)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return Hits(top.astype(np.int64), scores[top].astype(np.float32))

    def scores_of(self, tokens: Sequence[str], rows: Sequence[int]) -> np.ndarray:
        """BM25 scores of some rows only, equal to bm25s's `get_scores(tokens)[rows]` without scoring the
        whole corpus. bm25s keeps precomputed scores as a CSC matrix (token -> sorted rows, scores), so
        each token costs one binary search per row."""
        bm25 = self.bm25
        usable = self.usable(tokens)
        data, indices, indptr = (bm25.scores[name] for name in ("data", "indices", "indptr"))
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float64)
        ids = bm25.get_tokens_ids(usable) if usable else []  # repeated tokens count again, as in get_scores
        for token in ids:
            start, end = int(indptr[token]), int(indptr[token + 1])
            column = np.asarray(indices[start:end])
            if column.size == 0:
                continue
            at = np.minimum(np.searchsorted(column, rows), column.size - 1)
            found = column[at] == rows
            out[found] += np.asarray(data[start:end])[at[found]]
        if getattr(bm25, "nonoccurrence_array", None) is not None and ids:  # BM25L / BM25+ only
            out += float(bm25.nonoccurrence_array[ids].sum())
        return out

    # ---- for the scaling study (eval.scale): what it measures of bm25s, kept here so that this module
    # stays the only code that calls bm25s ----

    @staticmethod
    def vocabulary(tokens: Iterable[Sequence[str]]) -> dict[str, int]:
        """token -> id over every passage's tokens, as bm25s numbers them when it builds from tokens.
        Reads `tokens` once, so a generator-like sequence need not be held in memory."""
        return {token: i for i, token in enumerate(bm25s.get_unique_tokens(tokens, show_progress=False))}

    @classmethod
    def from_token_ids(cls, ids: Iterable[Sequence[int]], vocab: dict[str, int]) -> "LexicalIndex":
        """The same index as `build` would make, from each passage's token ids (`vocab` maps token -> id,
        e.g. from `vocabulary`). bm25s reads `ids` three times, so it may generate the lists when read
        instead of holding them; it adds the empty token "" to `vocab` (the dict passed in)."""
        bm25 = bm25s.BM25(k1=K1, b=B)
        bm25.index(SimpleNamespace(ids=ids, vocab=vocab), show_progress=False)
        return cls(bm25)

    @property
    def passage_count(self) -> int:
        """How many passages (rows) the index scores."""
        return int(self.bm25.scores["num_docs"])

    def token_ids(self, tokens: Sequence[str]) -> list[int]:
        """Ids of the tokens the corpus holds, in order; a repeated token counts again, as in search."""
        return self.bm25.get_tokens_ids(list(tokens))

    def posting_lengths(self, tokens: Sequence[str]) -> np.ndarray:
        """For each of `token_ids(tokens)`: how many passages hold it, i.e. the postings bm25s adds up
        when it scores that token (its stored scores are a CSC matrix, token -> rows)."""
        indptr = self.bm25.scores["indptr"]
        ids = np.asarray(self.token_ids(tokens), dtype=np.int64)
        return (np.asarray(indptr[ids + 1]) - np.asarray(indptr[ids])).astype(np.int64)

    def scores_from_ids(self, ids: Sequence[int]) -> np.ndarray:
        """BM25 scores of every passage for these token ids (from `token_ids`): what search ranks, for a
        chosen subset of the query's tokens. `scores_from_ids(token_ids(t))` is search's scoring of t."""
        return self.bm25.get_scores_from_ids(list(ids))
