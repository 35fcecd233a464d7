"""Split a cleaned document into passages whose offsets point into the document text.

A passage is one paragraph (one body or heading line). A paragraph longer than MAX_CHARS is cut at
sentence boundaries into pieces of similar length, never inside a sentence, so each piece stays well
under the encoder's 512-token window (about 3-4 characters per token for Vietnamese in XLM-R).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.cleaning import Kind, Line

MAX_CHARS = 900

# Tokens ending in "." that do not end a sentence.
_ABBREVIATIONS = {"tp", "ts", "ths", "gs", "pgs", "bs", "ks", "th", "st", "v.v", "đ/c", "tr", "q", "p", "no"}

# A sentence ends at . ! ? … (plus closing quotes) followed by space and an upper-case letter,
# a digit, an opening quote or a dash.
_BOUNDARY = re.compile(r"[.!?…]+['\"”’)\]]*\s+(?=[\"“‘(\-–—]?[A-ZĐÀ-Ỹ0-9])")


@dataclass(frozen=True)
class Passage:
    id: str
    doc_id: str
    paragraph: int  # 1-based number of the paragraph among the document's kept paragraphs
    part: int  # 1-based piece of a long paragraph
    start: int
    end: int
    text: str
    kind: str  # "body" or "heading"; "title" (a document with no body) or "byline" (see indexer.documents)
    section: str | None  # the nearest heading above, for context
    page: int | None = None  # PDF page the passage starts on
    place: str | None = None  # its place in a legal text: "Chương II, Điều 5, khoản 2"


def sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text, shifted by offset, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    begin = 0
    for match in _BOUNDARY.finditer(text):
        word = text[:match.start() + 1].rsplit(None, 1)[-1].rstrip(".").casefold()
        if word in _ABBREVIATIONS:
            continue
        end = match.end() - len(match.group()) + len(match.group().rstrip())
        spans.append((begin, end))
        begin = match.end()
    if begin < len(text):
        spans.append((begin, len(text.rstrip())))
    return [(offset + s, offset + e) for s, e in spans if e > s]


MAX_ANSWER_CHARS = 400


def answer_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """The units an answer is chosen from: sentences, with very long ones cut at semicolons."""
    units: list[tuple[int, int]] = []
    for start, end in sentence_spans(text, offset):
        if end - start <= MAX_ANSWER_CHARS:
            units.append((start, end))
            continue
        piece = start
        for match in re.finditer(r";\s+", text[start - offset:end - offset]):
            cut = start + match.start() + 1  # keep the semicolon with the clause before it
            if cut - piece >= 40:  # no tiny fragments
                units.append((piece, cut))
                piece = start + match.end()
        units.append((piece, end))
    return units


def _pack(spans: list[tuple[int, int]], max_chars: int) -> list[tuple[int, int]]:
    """Group consecutive sentences into pieces of similar length, each at most max_chars if possible."""
    total = spans[-1][1] - spans[0][0]
    pieces = -(-total // max_chars)
    target = total / pieces
    groups: list[tuple[int, int]] = []
    start = spans[0][0]
    for i, (s, e) in enumerate(spans):
        last = i == len(spans) - 1
        too_long_with_next = not last and spans[i + 1][1] - start > max_chars
        if last or e - start >= target or too_long_with_next:
            groups.append((start, e))
            if not last:
                start = spans[i + 1][0]
    return groups


def pack_sentences(text: str, offset: int = 0, max_chars: int = MAX_CHARS) -> list[tuple[int, int]]:
    """(start, end), shifted by offset, of the pieces a paragraph longer than max_chars is cut into: whole
    sentences grouped into pieces of similar length (what split_passages does to a long paragraph)."""
    spans = sentence_spans(text, offset)
    return _pack(spans, max_chars) if spans else []


PARAGRAPH_KINDS = (Kind.BODY, Kind.HEADING)


def split_passages(
    doc_id: str, text: str, lines: list[Line], max_chars: int = MAX_CHARS,
    kinds: tuple[Kind, ...] = PARAGRAPH_KINDS, first_paragraph: int = 1,
) -> list[Passage]:
    """One passage per line of the given kinds (a long line cut into parts), numbered from
    first_paragraph. By default the body and heading lines: the document's paragraphs."""
    passages: list[Passage] = []
    section = None
    paragraph = first_paragraph - 1
    for line in lines:
        if line.kind not in kinds:
            continue
        paragraph += 1
        if line.kind is Kind.HEADING:
            section = line.text
        if line.end - line.start <= max_chars:
            pieces = [(line.start, line.end)]
        else:
            pieces = _pack(sentence_spans(line.text, line.start), max_chars)
        for part, (start, end) in enumerate(pieces, 1):
            suffix = f".{part}" if len(pieces) > 1 else ""
            passages.append(
                Passage(
                    id=f"{doc_id}:{paragraph}{suffix}",
                    doc_id=doc_id,
                    paragraph=paragraph,
                    part=part,
                    start=start,
                    end=end,
                    text=text[start:end],
                    kind=line.kind.value,
                    section=section if line.kind is Kind.BODY else None,
                )
            )
    return passages
