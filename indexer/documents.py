"""Read a corpus folder into documents: text, title, byline, passages.

Passages are the body and heading paragraphs, numbered from 1, then the byline lines (kind "byline"),
numbered after them. A document with no body paragraph gets its title line as passage 1 (kind "title").

`Document.text` is what citations point into: a UTF-8/UTF-16 text file's decoded text unchanged,
or the text extracted from HTML, PDF, DOCX (and Windows-1258 files), which the index stores.
Every passage satisfies `document.text[p.start:p.end] == p.text`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from indexer.cleaning import Kind, classify, split_lines
from indexer.formats import SUFFIXES, Extracted, UnreadableFile, extract, page_of
from indexer.legal import is_legal, split_legal
from indexer.passages import Passage, split_passages


@dataclass
class Document:
    doc_id: str
    source: str  # file path relative to the corpus folder, POSIX style
    title: str
    text: str
    sha256: str
    byline: str | None = None
    kind: str = "text"  # text | html | pdf | docx
    date: str | None = None  # ISO publish date, when the file says
    passages: list[Passage] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)  # line kind -> how many lines cleaning dropped


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


def doc_id_for(source: str) -> str:
    """A URL-friendly id: the relative path without its suffix."""
    return source.rsplit(".", 1)[0]


def parse_document(source: str, text: str, sha256: str, extracted: Extracted | None = None) -> Document:
    lines = classify(split_lines(text))
    if not lines:
        raise ValueError("tệp không có nội dung")
    doc_id = doc_id_for(source)
    bylines = [line.text for line in lines if line.kind is Kind.BYLINE]
    if extracted and extracted.author and extracted.author not in bylines:
        bylines.insert(0, extracted.author)
    title = (extracted.title if extracted and extracted.title else None) or lines[0].text
    if is_legal(title, text):
        # Laws and regulations: passages follow Chương / Mục / Điều / khoản, and name their place.
        # The news-page cleaning rules would mislabel their lines, so they do not apply.
        passages = [replace(p, place=place.label() or None) for p, place in split_legal(doc_id, text, split_lines(text))]
        bylines = [extracted.author] if extracted and extracted.author else []
        dropped = Counter()
    else:
        passages = _with_title_and_bylines(doc_id, text, lines)
        kept = (Kind.BODY, Kind.HEADING, Kind.TITLE, Kind.BYLINE)
        dropped = Counter(line.kind.value for line in lines if line.kind not in kept)
    if extracted and extracted.pages:
        passages = [replace(p, page=page_of(extracted, p.start)) for p in passages]
    return Document(
        doc_id=doc_id,
        source=source,
        title=title,
        text=text,
        sha256=sha256,
        byline="; ".join(bylines) or None,
        kind=extracted.kind if extracted else "text",
        date=extracted.date if extracted else None,
        passages=passages,
        dropped=dropped,
    )


def _with_title_and_bylines(doc_id: str, text: str, lines: list) -> list[Passage]:
    """The body and heading paragraphs; the title line (kind "title") when there are none, so a one-line
    document is indexed; then each byline line (kind "byline"), numbered after the last paragraph so the
    body keeps its numbers and ids. The byline also stays document metadata."""
    passages = split_passages(doc_id, text, lines)
    if not passages:
        passages = split_passages(doc_id, text, lines[:1], kinds=(Kind.TITLE,))
    after = passages[-1].paragraph + 1 if passages else 1
    return passages + split_passages(doc_id, text, lines, kinds=(Kind.BYLINE,), first_paragraph=after)


def read_corpus(corpus_dir: Path) -> tuple[list[Document], list[Skipped]]:
    """Every readable document under corpus_dir (recursively), and the files skipped with the reason."""
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file()):
        source = path.relative_to(corpus_dir).as_posix()
        if any(part.startswith(".") for part in path.relative_to(corpus_dir).parts):
            continue
        if path.suffix.lower() not in SUFFIXES:
            skipped.append(Skipped(source, f"định dạng {path.suffix or '(không đuôi)'} không được hỗ trợ"))
            continue
        try:
            extracted = extract(path)
            document = parse_document(source, extracted.text, file_sha256(path), extracted)
        except (UnreadableFile, ValueError) as exc:
            skipped.append(Skipped(source, str(exc)))
            continue
        if not document.passages:
            skipped.append(Skipped(source, "không có đoạn văn nào sau khi làm sạch"))
            continue
        documents.append(document)
    return documents, skipped


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks (corpus files can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
