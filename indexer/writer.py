"""Write index versions (format: tracuu/core/store.py) and hold the one-build-at-a-time lock."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.documents import Document
from tracuu.core.dense import build_dense, save_dense, search_params
from tracuu.core.lexical import LexicalIndex
from tracuu.core.diacritics import DiacriticsModel
from tracuu.core.registry import Registry
from tracuu.core.store import DIACRITICS_FILE, FORMAT_VERSION, KEEP_VERSIONS


class IndexBusy(Exception):
    """Another build holds the lock on this index folder."""


_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, source TEXT, title TEXT, byline TEXT, sha256 TEXT, text TEXT, kind TEXT, date TEXT
);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, id TEXT UNIQUE, doc_id TEXT, paragraph INTEGER, part INTEGER,
    start INTEGER, "end" INTEGER, text TEXT, kind TEXT, section TEXT, page INTEGER, place TEXT
);
CREATE INDEX passages_doc ON passages (doc_id);
CREATE TABLE units (row INTEGER PRIMARY KEY, passage_row INTEGER, start INTEGER, "end" INTEGER);
CREATE INDEX units_passage ON units (passage_row);
"""


@dataclass
class Units:
    """Answer units (sentences) of the passages: spans into the document text, and their vectors."""

    spans: list[tuple[int, int, int]]  # (passage row, start, end)
    vectors: np.ndarray



@contextmanager
def build_lock(index_dir: Path):
    """One build at a time per index folder; a second one is refused at once with a clear message."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"Một lần lập chỉ mục khác đang chạy trên {index_dir}; hãy đợi nó xong.") from None
        yield


def write_version(
    index_dir: Path,
    documents: list[Document],
    vectors: np.ndarray,
    lexical: LexicalIndex,
    units: Units,
    registry: Registry,
    manifest: dict,
    diacritics: DiacriticsModel | None = None,
) -> Path:
    """Write a complete new version and make it current. Returns the version folder."""
    versions = index_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    name = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    staging = versions / f".staging-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()

    db = sqlite3.connect(staging / "passages.sqlite")
    db.executescript(_SCHEMA)
    db.executemany(
        "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(d.doc_id, d.source, d.title, d.byline, d.sha256, d.text, d.kind, d.date) for d in documents],
    )
    rows = [p for d in documents for p in d.passages]
    db.executemany(
        "INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (i, p.id, p.doc_id, p.paragraph, p.part, p.start, p.end, p.text, p.kind, p.section, p.page, p.place)
            for i, p in enumerate(rows)
        ],
    )
    db.executemany("INSERT INTO units VALUES (?, ?, ?, ?)", [(i, *span) for i, span in enumerate(units.spans)])
    db.commit()
    db.close()
    np.save(staging / "units.npy", np.ascontiguousarray(units.vectors, dtype=np.float32))

    index = build_dense(vectors)
    save_dense(index, staging / "dense.faiss")
    lexical.save(staging / "lexical")
    (staging / "references.json").write_text(registry.to_json(), encoding="utf-8")
    if diacritics is not None:
        diacritics.save(staging / DIACRITICS_FILE)

    manifest = {**manifest, "format_version": FORMAT_VERSION, "version": name, "passages": len(rows),
                "dense": search_params(index)}
    (staging / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    _fsync_tree(staging)

    final = versions / name
    os.replace(staging, final)
    link = index_dir / f".current-{name}"
    os.symlink(Path("versions") / name, link)
    os.replace(link, index_dir / "current")
    _prune(versions, keep=final)
    return final


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def _prune(versions: Path, keep: Path) -> None:
    """Keep the newest versions (a server may still be reading the previous one)."""
    done = sorted((p for p in versions.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)
    for old in done[:-KEEP_VERSIONS]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
    for stale in versions.glob(".staging-*"):
        if time.time() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)


