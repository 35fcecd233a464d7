"""The index on disk: one folder per version, and a `current` symlink switched atomically.

    index_dir/
      current -> versions/<version>      (os.replace of a symlink: readers see old or new, never a mix)
      versions/<version>/manifest.json   format version, model, dimension, corpus file hashes, counts
      versions/<version>/passages.sqlite documents (with their text) and passages (row i = FAISS id i)
      versions/<version>/dense.faiss     inner product over normalized vectors: exact, or IVF when large
                                         (tracuu.core.dense), memory-mapped when read
      versions/<version>/lexical/        bm25s index (row i = passage row i)
      versions/<version>/units.npy       vectors of answer units (sentences), row i = units table row i
      versions/<version>/references.json registry of the Party/State documents the passages cite
      versions/<version>/diacritics.json syllable counts that restore diacritics to accentless queries
      .lock                              held by a running build

The indexer writes versions (indexer/writer.py); the server reads them through IndexReader here.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tracuu.core.dense import DenseIndex
from tracuu.core.diacritics import DiacriticsModel
from tracuu.core.lexical import LexicalIndex
from tracuu.core.registry import Registry

FORMAT_VERSION = 2
DIACRITICS_FILE = "diacritics.json"  # optional: indexes written before it simply restore nothing
KEEP_VERSIONS = 2


class IndexUnavailable(Exception):
    """The index is missing, corrupt or does not fit the configuration. The message says what to run."""


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




def in_article(rows, article: str) -> list[int]:
    """The rows whose place (e.g. "Chương II, Điều 5") is exactly "Điều <article>", from (row, place)
    pairs that a LIKE '%Điều <article>%' already narrowed (both stores)."""
    return [row for row, place in rows if re.search(rf"Điều {re.escape(article)}(?:,|$)", place)]


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
            self.dense = DenseIndex.load(version / "dense.faiss")
            self.lexical = LexicalIndex.load(version / "lexical")
            self.unit_vectors = np.load(version / "units.npy", mmap_mode="r")
            self.registry = Registry.from_json((version / "references.json").read_text(encoding="utf-8"))
            counted = DiacriticsModel.load(version / DIACRITICS_FILE)  # the corpus's counts, plus how people ask
            self.diacritics = counted.with_questions() if counted else None
            self.db = sqlite3.connect(f"file:{version / 'passages.sqlite'}?mode=ro", uri=True, check_same_thread=False)
            count = self.db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        except (OSError, ValueError, KeyError, RuntimeError, sqlite3.Error) as exc:
            raise IndexUnavailable(f"Chỉ mục ở {index_dir} bị hỏng ({exc}). {hint}") from None
        if count != self.dense.size or count != self.manifest.get("passages"):
            raise IndexUnavailable(f"Chỉ mục ở {index_dir} không khớp (passages {count}, vectors {self.dense.size}). {hint}")
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

    def rows_of_documents(self, doc_ids: list[str]) -> list[int]:
        """Every passage of these documents, in row order."""
        marks = ",".join("?" * len(doc_ids))
        return [r[0] for r in self.db.execute(f"SELECT row FROM passages WHERE doc_id IN ({marks}) ORDER BY row", doc_ids)]

    def rows_of_article(self, doc_ids: list[str], article: str) -> list[int]:
        """Passages of "Điều <article>" in these documents, in document order."""
        marks = ",".join("?" * len(doc_ids))
        rows = self.db.execute(
            f"SELECT row, place FROM passages WHERE doc_id IN ({marks}) AND place LIKE ? ORDER BY row",
            [*doc_ids, f"%Điều {article}%"],
        )
        return in_article(rows, article)

    def unit_spans(self, rows: list[int]) -> dict[int, list[tuple[int, int, int]]]:
        """The answer units of several passages in one query: passage row -> [(unit row, start, end)]."""
        found: dict[int, list[tuple[int, int, int]]] = {r: [] for r in rows}
        if rows:
            marks = ",".join("?" * len(rows))
            for unit, passage, start, end in self.db.execute(
                    f'SELECT row, passage_row, start, "end" FROM units WHERE passage_row IN ({marks}) ORDER BY row', rows):
                found[passage].append((unit, start, end))
        return found

    def units(self, passage_row: int) -> tuple[list[tuple[int, int]], np.ndarray]:
        """The answer units of one passage: their (start, end) and vectors."""
        rows = list(self.db.execute(
            'SELECT row, start, "end" FROM units WHERE passage_row = ? ORDER BY row', (passage_row,)
        ))
        spans = [(start, end) for _, start, end in rows]
        return spans, np.asarray(self.unit_vectors[[r for r, _, _ in rows]])

    def unit_scores(self, units: list[int], vector: np.ndarray) -> np.ndarray:
        """Cosines of these answer units (rows of units.npy) with a normalized query vector."""
        return np.asarray(self.unit_vectors[units]) @ vector

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

    def document_info(self, doc_ids: list[str]) -> dict[str, dict]:
        """Each document's title, date (ISO) and byline, for showing and filtering results."""
        if not doc_ids:
            return {}
        marks = ",".join("?" * len(doc_ids))
        rows = self.db.execute(f"SELECT doc_id, title, date, byline FROM documents WHERE doc_id IN ({marks})", doc_ids)
        return {r[0]: {"title": r[1], "date": r[2], "byline": r[3]} for r in rows}

    def documents(self) -> list[tuple[str, str, str]]:
        return list(self.db.execute("SELECT doc_id, title, source FROM documents ORDER BY doc_id"))
