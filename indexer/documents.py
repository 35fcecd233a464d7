"""Read a corpus folder into documents: decoded text, title, byline, passages.

`Document.text` is the file's decoded text, unchanged; every passage satisfies
`document.text[p.start:p.end] == p.text`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from indexer.cleaning import Kind, classify, split_lines
from indexer.passages import Passage, split_passages

SUFFIXES = {".txt", ".md"}


@dataclass
class Document:
    doc_id: str
    source: str  # file path relative to the corpus folder, POSIX style
    title: str
    text: str
    sha256: str
    byline: str | None = None
    passages: list[Passage] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)  # line kind -> how many lines cleaning dropped


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


def doc_id_for(source: str) -> str:
    """A URL-friendly id: the relative path without its suffix."""
    return source.rsplit(".", 1)[0]


def parse_document(source: str, text: str, sha256: str) -> Document:
    lines = classify(split_lines(text))
    if not lines:
        raise ValueError("tệp không có nội dung")
    doc_id = doc_id_for(source)
    bylines = [line.text for line in lines if line.kind is Kind.BYLINE]
    return Document(
        doc_id=doc_id,
        source=source,
        title=lines[0].text,
        text=text,
        sha256=sha256,
        byline="; ".join(bylines) or None,
        passages=split_passages(doc_id, text, lines),
        dropped=Counter(line.kind.value for line in lines if line.kind not in (Kind.BODY, Kind.HEADING, Kind.TITLE)),
    )


def read_corpus(corpus_dir: Path) -> tuple[list[Document], list[Skipped]]:
    """Every readable document under corpus_dir, and the files skipped with the reason why."""
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file()):
        source = path.relative_to(corpus_dir).as_posix()
        if path.suffix.lower() not in SUFFIXES or any(part.startswith(".") for part in path.parts):
            continue
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            skipped.append(Skipped(source, f"không đọc được UTF-8 (byte {exc.start})"))
            continue
        try:
            document = parse_document(source, text, hashlib.sha256(data).hexdigest())
        except ValueError as exc:
            skipped.append(Skipped(source, str(exc)))
            continue
        if not document.passages:
            skipped.append(Skipped(source, "không có đoạn văn nào sau khi làm sạch"))
            continue
        documents.append(document)
    return documents, skipped
