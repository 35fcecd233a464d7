"""The index on disk: one folder per version, and a `current` symlink switched atomically.

    index_dir/
      current -> versions/<version>      (os.replace of a symlink: readers see old or new, never a mix)
      versions/<version>/manifest.json   format version, model, dimension, corpus file hashes, counts
      versions/<version>/passages.sqlite documents (with their text) and passages (row i = FAISS id i)
      versions/<version>/dense.faiss     inner product over normalized vectors: exact, or IVF when large
                                         (indexer.dense), memory-mapped when read
      versions/<version>/lexical/        bm25s index (row i = passage row i)
      versions/<version>/units.npy       vectors of answer units (sentences), row i = units table row i
      versions/<version>/references.json registry of the Party/State documents the passages cite
      .lock                              held by a running build

Both the indexer (writing) and the server (reading) go through this module.
"""

from __future__ import annotations

import fcntl
import json
import re
import os
import shutil
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.dense import build_dense, load_dense, save_dense, search_params
from indexer.documents import Document
from indexer.lexical import LexicalIndex
from indexer.references import Registry

FORMAT_VERSION = 2
KEEP_VERSIONS = 2


class IndexUnavailable(Exception):
    """The index is missing, corrupt or does not fit the configuration. The message says what to run."""


class IndexBusy(Exception):
    pass


@dataclass
class StoredPassage:
    row: int
    id: str
    doc_id: str
    paragraph: int
    part: int
    start: int
    end: int
    text: str
    kind: str
    section: str | None
    page: int | None
    place: str | None
    title: str
    source: str


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


def current_version(index_dir: Path) -> Path | None:
    link = index_dir / "current"
    return link.resolve() if link.exists() else None


def read_manifest(index_dir: Path) -> dict | None:
    version = current_version(index_dir)
    if version is None:
        return None
    try:
        return json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class IndexReader:
    """A read-only view of one index version (opened once; later versions do not affect it)."""

    def __init__(self, index_dir: Path):
        version = current_version(index_dir)
        hint = f"Hãy chạy: tracuu index --index {index_dir}"
        if version is None:
            raise IndexUnavailable(f"Chưa có chỉ mục ở {index_dir}. {hint}")
        try:
            self.manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
            if self.manifest.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"định dạng {self.manifest.get('format_version')} khác {FORMAT_VERSION}")
            self.dense = load_dense(version / "dense.faiss")
            self.lexical = LexicalIndex.load(version / "lexical")
            self.unit_vectors = np.load(version / "units.npy", mmap_mode="r")
            self.registry = Registry.from_json((version / "references.json").read_text(encoding="utf-8"))
            self.db = sqlite3.connect(f"file:{version / 'passages.sqlite'}?mode=ro", uri=True, check_same_thread=False)
            count = self.db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        except (OSError, ValueError, KeyError, RuntimeError, sqlite3.Error) as exc:
            raise IndexUnavailable(f"Chỉ mục ở {index_dir} bị hỏng ({exc}). {hint}") from None
        if count != self.dense.ntotal or count != self.manifest.get("passages"):
            raise IndexUnavailable(f"Chỉ mục ở {index_dir} không khớp (passages {count}, vectors {self.dense.ntotal}). {hint}")
        self.version = version
        self.size = count

    def passages(self, rows: list[int]) -> list[StoredPassage]:
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = {
            r[0]: StoredPassage(*r)
            for r in self.db.execute(
                "SELECT p.row, p.id, p.doc_id, p.paragraph, p.part, p.start, p.\"end\", p.text, p.kind, p.section,"
                f" p.page, p.place, d.title, d.source FROM passages p JOIN documents d USING (doc_id) WHERE p.row IN ({marks})",
                rows,
            )
        }
        return [found[r] for r in rows if r in found]

    def rows_of(self, passage_ids: list[str]) -> list[int]:
        marks = ",".join("?" * len(passage_ids))
        return [r[0] for r in self.db.execute(f"SELECT row FROM passages WHERE id IN ({marks}) ORDER BY row", passage_ids)]

    def rows_of_article(self, doc_ids: list[str], article: str) -> list[int]:
        """Passages of "Điều <article>" in these documents, in document order."""
        marks = ",".join("?" * len(doc_ids))
        rows = self.db.execute(
            f"SELECT row, place FROM passages WHERE doc_id IN ({marks}) AND place LIKE ? ORDER BY row",
            [*doc_ids, f"%Điều {article}%"],
        )
        return [row for row, place in rows if re.search(rf"Điều {re.escape(article)}(?:,|$)", place)]

    def units(self, passage_row: int) -> tuple[list[tuple[int, int]], np.ndarray]:
        """The answer units of one passage: their (start, end) and vectors."""
        rows = list(self.db.execute(
            'SELECT row, start, "end" FROM units WHERE passage_row = ? ORDER BY row', (passage_row,)
        ))
        spans = [(start, end) for _, start, end in rows]
        return spans, np.asarray(self.unit_vectors[[r for r, _, _ in rows]])

    def document_text(self, doc_id: str) -> str:
        return self.db.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()[0]

    def document(self, doc_id: str) -> dict | None:
        row = self.db.execute(
            "SELECT doc_id, source, title, byline, text, kind, date FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            return None
        rows = [r[0] for r in self.db.execute("SELECT row FROM passages WHERE doc_id = ? ORDER BY row", (doc_id,))]
        keys = ("doc_id", "source", "title", "byline", "text", "kind", "date")
        return {**dict(zip(keys, row)), "passages": self.passages(rows)}

    def documents(self) -> list[tuple[str, str, str]]:
        return list(self.db.execute("SELECT doc_id, title, source FROM documents ORDER BY doc_id"))
