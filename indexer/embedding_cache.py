"""A cache of passage embeddings keyed by (vectors id, text hash): re-indexing unchanged text embeds nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np


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
