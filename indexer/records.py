"""Documents from records (a benchmark corpus: id, title, clean text) instead of files.

Benchmark text is already clean, so there is no news-chrome cleaning: every non-empty line is kept.
Consecutive lines are packed together into passages of at most MAX_CHARS characters; a line longer
than that is cut at sentence ends the way `split_passages` cuts a long paragraph. As for files,
`document.text[p.start:p.end] == p.text` for every passage.
"""

from __future__ import annotations

import hashlib
import re

from indexer.documents import Document
from indexer.passages import MAX_CHARS, Passage, pack_sentences

_LINE = re.compile(r"[^\n]+")


def line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank line, surrounding whitespace (and a \\r) trimmed."""
    spans = []
    for match in _LINE.finditer(text):
        line = match.group()
        stripped = line.strip()
        if stripped:
            start = match.start() + (len(line) - len(line.lstrip()))
            spans.append((start, start + len(stripped)))
    return spans


def pack_lines(text: str, max_chars: int = MAX_CHARS) -> list[tuple[int, int]]:
    """Passage spans: runs of consecutive lines up to max_chars; a longer line alone, cut at sentence ends."""
    pieces: list[tuple[int, int]] = []
    group: tuple[int, int] | None = None
    for start, end in line_spans(text):
        if end - start > max_chars:
            if group:
                pieces.append(group)
                group = None
            pieces.extend(pack_sentences(text[start:end], start, max_chars) or [(start, end)])
        elif group and end - group[0] <= max_chars:
            group = (group[0], end)
        else:
            if group:
                pieces.append(group)
            group = (start, end)
    if group:
        pieces.append(group)
    return pieces


def document_from_record(doc_id: str, title: str, text: str) -> Document:
    """A Document whose text is the record text (the title stays apart, in Document.title).
    Raises ValueError for a record without text."""
    if not text.strip():
        raise ValueError(f"bản ghi {doc_id} không có nội dung")
    passages = [
        Passage(id=f"{doc_id}:{n}", doc_id=doc_id, paragraph=n, part=1, start=start, end=end,
                text=text[start:end], kind="body", section=None)
        for n, (start, end) in enumerate(pack_lines(text), 1)
    ]
    return Document(
        doc_id=doc_id,
        source=doc_id,
        title=title.strip(),
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        passages=passages,
    )
