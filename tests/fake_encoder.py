"""A deterministic stand-in for the e5 encoder, for in-process tests that need an index but not the
model: a bag of hashed, accent-free syllables, L2-normalized. Same text, same vector, always."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from tracuu.core.textnorm import syllable_tokens


class FakeEncoder:
    name = "fake"
    model_id = "fake@test"
    vectors_id = "fake@test"
    dim = 64

    @staticmethod
    def prepare(text: str) -> str:
        return text

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for token in syllable_tokens(text, folded=True):
            v[int(hashlib.md5(token.encode()).hexdigest()[:8], 16) % self.dim] += 1.0
        v[0] += 0.01  # never the zero vector
        return v / np.linalg.norm(v)

    def encode_queries(self, texts) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts])

    def encode_passages(self, texts, on_batch=None) -> np.ndarray:
        out = np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
        if on_batch:
            on_batch(len(texts))
        return out


def fake_client(folder: Path):
    """A TestClient over the seed corpus indexed with FakeEncoder in `folder` (a context manager):
    the real routes, validation and citations, in process and without the model."""
    from fastapi.testclient import TestClient

    from indexer.build import build_index
    from indexer.embedding_cache import EmbeddingCache
    from server.app import create_app
    from server.search import Searcher, load_ranker

    corpus = Path(__file__).resolve().parents[1] / "corpus"
    encoder = FakeEncoder()
    build_index(corpus, folder / "index", encoder, EmbeddingCache(folder / "cache.sqlite"))
    return TestClient(create_app(Searcher(folder / "index", encoder, load_ranker("learned")), watch=False))
