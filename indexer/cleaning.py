"""Decide what each line of a news article is: title, body, heading, or site furniture.

The files are never edited: cleaning only labels line spans, and the passage splitter keeps the
spans labelled BODY or HEADING. Everything else is either dropped (chrome, captions, lone dates)
or becomes document metadata (the byline, which indexer.documents also keeps as a passage of its
own, and the title, a passage only in a document with no body).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from enum import Enum

# Lines a news site prints around every article. Compared after casefolding and trimming.
CHROME_LINES = {
    "phản hồi",
    "các tin khác",
    "tin khác",
    "tin liên quan",
    "bài liên quan",
    "mới nhất",
    "xem nhiều nhất",
    "đọc nhiều nhất",
    "phiên bản di động",
    "viết bình luận mới",
    "bình luận",
    "gửi bình luận",
    "chủ đề",
    "chia sẻ",
    "in bài",
    "in bài viết",
    "lên đầu trang",
    "về trang chủ",
    "trang chủ",
    "tags",
    "từ khóa",
}

# "08/11/2019 | 07:50 GMT+7", "23/12/2022", "Thứ Hai, 12/12/2022 10:30" ...
_DATE_ONLY = re.compile(
    r"^(?:(?:thứ\s+\w+|chủ\s+nhật)\s*,?\s*)?"
    r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
    r"(?:\s*[|,-]?\s*\d{1,2}:\d{2}(?::\d{2})?)?(?:\s*\(?GMT[+-]\d{1,2}\)?)?$",
    re.IGNORECASE,
)
_TIME_ONLY = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?(?:\s*GMT[+-]\d{1,2})?$", re.IGNORECASE)

# A sentence ends with one of these (optionally followed by closing quotes/brackets).
_ENDS_SENTENCE = re.compile(r"[.!?…:;]['\"”’)\]]*$")

# Words in a line that give it away as a byline: "Tú Linh; Ảnh: Viết Thành", "TRƯỜNG SƠN lược ghi".
_BYLINE_HINTS = re.compile(r"(?:ảnh\s*:|lược ghi|ghi chép|thực hiện\s*$|^theo\s+\S+|\bTTXVN\b)", re.IGNORECASE)

MAX_HEADING_WORDS = 30  # a line with no sentence end and more words than this is a run of link titles
MAX_CAPTION_WORDS = 20
MAX_BYLINE_WORDS = 15


class Kind(str, Enum):
    TITLE = "title"
    BODY = "body"
    HEADING = "heading"
    CHROME = "chrome"
    CAPTION = "caption"
    DATE = "date"
    BYLINE = "byline"


@dataclass(frozen=True)
class Line:
    start: int  # offsets into the decoded file text, whitespace trimmed
    end: int
    text: str
    block: int  # lines with no blank line between them share a block
    kind: Kind = Kind.BODY


def _key(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold().strip(" \t\u00a0.:")


def _words(text: str) -> int:
    return len(text.split())


def split_lines(text: str) -> list[Line]:
    """Non-blank lines with trimmed offsets, numbered by block."""
    lines: list[Line] = []
    block = 0
    previous_blank = True
    for match in re.finditer(r"^.*$", text, re.MULTILINE):
        raw = match.group()
        stripped = raw.strip(" \t\r\u00a0\ufeff\u200b")
        if not stripped:
            previous_blank = True
            continue
        if previous_blank and lines:
            block += 1
        previous_blank = False
        start = match.start() + raw.index(stripped)
        lines.append(Line(start, start + len(stripped), stripped, block))
    return lines


def classify(lines: list[Line]) -> list[Line]:
    """Label every line. The first line is the title."""
    if not lines:
        return []
    title_key = _key(lines[0].text)
    counts = Counter(_key(line.text) for line in lines)
    kinds = [_classify_one(lines, i, title_key, counts) for i in range(len(lines))]
    _mark_bylines(lines, kinds)
    return [Line(line.start, line.end, line.text, line.block, kind) for line, kind in zip(lines, kinds)]


def _classify_one(lines: list[Line], i: int, title_key: str, counts: Counter) -> Kind:
    line = lines[i]
    key = _key(line.text)
    if i == 0:
        return Kind.TITLE
    if key in CHROME_LINES:
        return Kind.CHROME
    if key == title_key:
        return Kind.CAPTION  # the title printed again over a photo
    if _DATE_ONLY.match(line.text) or _TIME_ONLY.match(line.text):
        return Kind.DATE
    short = _words(line.text) <= MAX_CAPTION_WORDS
    if counts[key] > 1 and short:
        return Kind.CAPTION  # a photo caption printed twice
    prev = lines[i - 1]
    if short and prev.block == line.block and _key(prev.text) == title_key:
        return Kind.CAPTION  # the caption right under the title or its photo
    if not _ENDS_SENTENCE.search(line.text):
        # No sentence end: a heading, unless it is too long to be one. Then it is the titles
        # of other articles run together on one line.
        return Kind.HEADING if _words(line.text) <= MAX_HEADING_WORDS else Kind.CHROME
    return Kind.BODY


def _looks_like_byline(text: str) -> bool:
    """A short line that opens with a person's name ("Tú Linh; …", "TRƯỜNG SƠN lược ghi") or credits a photo."""
    words = text.split()
    if len(words) > MAX_BYLINE_WORDS:
        return False
    if _BYLINE_HINTS.search(text):
        return True
    name_first = len(words) >= 2 and all(w[:1].isupper() for w in words[:2])
    # "Hà Nội tiếp tục phát huy." is a sentence; "Hứa Thị Phương - Phó Trưởng Ban …." is a signature.
    return name_first and (not _ENDS_SENTENCE.search(text) or bool(re.search(r"\s[-–]\s", text)))


def _mark_bylines(lines: list[Line], kinds: list[Kind]) -> None:
    """The author's signature: name-like short lines after the last paragraph, or photo credits anywhere."""
    for i in range(len(lines) - 1, 0, -1):
        if kinds[i] in (Kind.CHROME, Kind.DATE, Kind.CAPTION):
            continue
        if not _looks_like_byline(lines[i].text):
            break
        kinds[i] = Kind.BYLINE
    for i, line in enumerate(lines):
        if kinds[i] is Kind.HEADING and _BYLINE_HINTS.search(line.text) and _looks_like_byline(line.text):
            kinds[i] = Kind.BYLINE
