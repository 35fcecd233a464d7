"""A cache of lexical tokens by text hash: pyvi segmentation is the slow part of a re-index."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from tracuu.core.textnorm import lexical_tokens

# Bump when textnorm's token stream changes, so cached token lists are not reused.
TOKENS_VERSION = 1
_SEP = "\x1f"


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
