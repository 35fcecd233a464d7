"""Passages for structured legal text: laws, decrees, circulars and Party regulations.

Such a document is a preamble ("Căn cứ …", "Quốc hội ban hành …"), then articles ("Điều 5. Phạm vi
điều chỉnh") grouped under parts ("Phần thứ nhất"), chapters ("Chương II") and sections ("Mục 1"),
then a closing block (signatures, "Nơi nhận:"). Articles hold clauses (khoản: "1.", "2." at line
start), clauses hold points (điểm: "a)", "b)").

`split_legal` cuts along that structure and gives each passage its `Place`, so a hit can be cited as
"Chương II, Điều 5, khoản 2":

- A passage never crosses an article boundary. An article of at most max_chars is one passage with
  its heading line, so the passage names itself.
- A longer article is cut between clauses: consecutive whole clauses (the heading and the text
  before clause 1 go with the first one) are packed into pieces of similar length, at most
  max_chars each. A clause longer than max_chars is cut between its lines (its points), and a line
  longer than max_chars between sentences, never inside one. `Place.clause` names the clauses a
  piece holds: "2", or a range "2–3" (en dash) when it holds several; None for a piece that holds
  only the heading/intro.
- Part, chapter and section headings (with their name, on the same or the next line) become short
  passages of kind "heading"; they are not inside any article and set the Place of what follows.
- The preamble, the closing block and any text between a heading and the next article are split
  like ordinary paragraphs (one passage per line; long lines cut at sentence ends), with
  Place(article=None).

Every non-blank character of the document lies in exactly one passage, and
`text[p.start:p.end] == p.text`. Ids follow passages.py: `f"{doc_id}:{n}"` or `f"{doc_id}:{n}.{part}"`,
where n counts paragraphs — a heading, a preamble line or a whole article is one paragraph.

Lines come from `cleaning.split_lines`; `cleaning.classify` is not used: its news heuristics would
call article headings "headings", short clauses "captions", and signatures "bylines".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from indexer.cleaning import Line, split_lines
from indexer.passages import MAX_CHARS, Passage, _pack, sentence_spans
from tracuu.core.textnorm import fold

MAX_TITLE_CHARS = 150  # Party regulations often run the whole article on its heading line

# Matched against the NFC line text. "Điều kiện", "Mục đích", "Phần lớn" need a number to count.
_ARTICLE = re.compile(r"(?i:điều)\s+(?P<n>\d{1,4}[a-zA-Z]?)"  # "Điều 5. Tên", "Điều 5: Tên", "Điều 5 Tên", "Điều 5"
                      r"(?:\s*[.:–—-](?!\d)\s*(?P<t>.*)|\s+(?P<u>\S.*)|\s*)$")
_CHAPTER = re.compile(r"(?i:chương)\s+(?P<n>[IVXLC]+|\d{1,3})(?!\w)\s*[.:–—-]?\s*(?P<name>.*)$")
_SECTION = re.compile(r"(?i:mục)\s+(?P<n>[IVXLC]+|\d{1,3})(?!\w)\s*[.:–—-]?\s*(?P<name>.*)$")
_PART = re.compile(r"(?i:phần)\s+(?P<n>(?i:thứ)\s+\w+|[IVXLC]+|\d{1,2})(?!\w)\s*[.:–—-]?\s*(?P<name>.*)$")
_CLAUSE = re.compile(r"(?P<n>\d{1,3})\s?[.–-](?!\d)\s*\S")
# The closing block after the last article: signatures, distribution list, the adoption formula.
_CLOSING = re.compile(r"(?:T/?M\b|TM\.|KT\.|(?:Q\.|PHÓ)?\s?(?:CHỦ TỊCH|THỦ TƯỚNG|BỘ TRƯỞNG)\b"
                      r"|(?i:nơi nhận)|\(?(?i:đã ký)\)?$|(?:(?:Bộ\s+)?Luật|Pháp lệnh|Nghị quyết) này (?:đã )?được Quốc hội)")
_LEGAL_TITLE = re.compile(r"(?<!\w)(?:bo luat|luat|nghi dinh|thong tu|quy dinh|huong dan|quyet dinh|"
                          r"nghi quyet|phap lenh|hien phap|quy che|dieu le)(?!\w)")
_PREAMBLE = re.compile(r"(?i:căn cứ)\s")
_MARKER = re.compile(r"(?:(?i:điều)\s+)?\w{1,4}\.")


@dataclass(frozen=True)
class Place:
    chapter: str | None  # "Chương II" (its name goes to Passage.section)
    section: str | None  # "Mục 1"
    article: str | None  # "5", as written ("12a")
    article_title: str | None  # "Phạm vi điều chỉnh"
    clause: str | None  # "2", or "2–3" when a piece holds several clauses

    def label(self) -> str:
        """ "Chương II, Mục 1, Điều 5, khoản 2": only the parts present ("" for a bare preamble)."""
        parts = [self.chapter, self.section, self.article and f"Điều {self.article}",
                 self.clause and f"khoản {self.clause}"]
        return ", ".join(p for p in parts if p)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _article(text: str) -> re.Match | None:
    """An article heading; "Điều 169 của Luật này." (a wrapped sentence) is not one."""
    m = _ARTICLE.match(_nfc(text))
    return m if m and (m["u"] is None or m["u"][0].isupper()) else None


def _article_title(m: re.Match) -> str | None:
    title = (m["t"] or m["u"] or "").strip().rstrip(" .:;")
    if len(title) > MAX_TITLE_CHARS:
        title = title[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] + " …"
    return title or None


def _heading(text: str) -> tuple[str, str, str] | None:
    """(level, label, name) of a part/chapter/section heading line."""
    text = _nfc(text)
    if len(text.split()) > 30 or text.endswith((",", ";")):
        return None
    for level, rx, word in (("part", _PART, "Phần"), ("chapter", _CHAPTER, "Chương"), ("section", _SECTION, "Mục")):
        if (m := rx.match(text)) and not m["name"][:1].islower():  # not "Mục 2 của Chương này …"
            n = m["n"].lower() if m["n"][:1] in "tT" else m["n"].upper()  # "thứ nhất", "II"
            return level, f"{word} {n}", m["name"].strip()
    return None


def _sentences(line: Line) -> list[tuple[int, int]]:
    """sentence_spans of a line, with a leading "1." or "Điều 5." kept on its sentence."""
    spans = sentence_spans(line.text, line.start)
    if len(spans) > 1 and _MARKER.fullmatch(_nfc(line.text[:spans[0][1] - line.start])):
        spans[:2] = [(spans[0][0], spans[1][1])]
    return spans


def _is_structural(text: str) -> bool:
    return bool(_article(text) or _heading(text) or _CLAUSE.match(text) or re.match(r"\w\)", text))


def is_legal(title: str, text: str) -> bool:
    """Structured law text: article headings ("Điều 1.", "Điều 2:") at line start, mostly ascending.

    Three or more distinct articles suffice. Two need support from a legal title word (Luật, Nghị
    định, Quy định …), a chapter/section heading, a "Căn cứ" line, or numbering from "Điều 1".
    """
    numbers, support = [], bool(_LEGAL_TITLE.search(fold(title).lower()))
    for line in split_lines(text):
        if m := _article(line.text):
            n = int(re.match(r"\d+", m["n"]).group())
            if n not in numbers:
                numbers.append(n)
        elif _heading(line.text) or _PREAMBLE.match(_nfc(line.text)):
            support = True
    rising = sum(a < b for a, b in zip(numbers, numbers[1:]))
    if len(numbers) < 2 or rising < 0.8 * (len(numbers) - 1):  # amending laws quote a few out of order
        return False
    return len(numbers) >= 3 or support or numbers[0] == 1


class _Builder:
    def __init__(self, doc_id: str, text: str, max_chars: int):
        self.doc_id, self.text, self.max_chars = doc_id, text, max_chars
        self.out: list[tuple[Passage, Place]] = []
        self.paragraph = 0
        self.headings: dict[str, str] = {}  # level → "Chương II. QUY ĐỊNH CHUNG"
        self.labels: dict[str, str] = {}  # level → "Chương II"

    def context(self) -> str | None:
        return " — ".join(self.headings[k] for k in ("part", "chapter", "section") if k in self.headings) or None

    def place(self, article: re.Match | None = None, clause: str | None = None) -> Place:
        return Place(self.labels.get("chapter"), self.labels.get("section"), article and article["n"],
                     article and _article_title(article), clause)

    def emit(self, pieces: list[tuple[int, int]], kind: str, places: list[Place]) -> None:
        self.paragraph += 1
        section = None if kind == "heading" else self.context()
        for part, ((start, end), place) in enumerate(zip(pieces, places), 1):
            suffix = f".{part}" if len(pieces) > 1 else ""
            passage = Passage(f"{self.doc_id}:{self.paragraph}{suffix}", self.doc_id, self.paragraph, part,
                              start, end, self.text[start:end], kind, section)
            self.out.append((passage, place))

    def paragraph_line(self, line: Line) -> None:
        pieces = [(line.start, line.end)] if line.end - line.start <= self.max_chars \
            else _pack(_sentences(line), self.max_chars)
        self.emit(pieces, "body", [self.place()] * len(pieces))

    def heading(self, level: str, label: str, name: str, lines: list[Line]) -> None:
        drop = {"part": ("part", "chapter", "section"), "chapter": ("chapter", "section")}.get(level, (level,))
        for key in drop:
            self.headings.pop(key, None)
            self.labels.pop(key, None)
        self.headings[level] = f"{label}. {name}" if name else label
        if level != "part":
            self.labels[level] = label
        self.emit([(lines[0].start, lines[-1].end)], "heading", [self.place()])

    def article(self, lines: list[Line]) -> None:
        m = _article(lines[0].text)
        if lines[-1].end - lines[0].start <= self.max_chars:
            self.emit([(lines[0].start, lines[-1].end)], "body", [self.place(m)])
            return
        # Blocks: the heading with the intro before clause 1, then one block per clause.
        blocks: list[tuple[str | None, list[Line]]] = [(None, [])]
        for line in lines:
            c = _CLAUSE.match(line.text) if line is not lines[0] else None
            if c:
                blocks.append((c["n"], []))
            blocks[-1][1].append(line)
        units: list[tuple[int, int, str | None]] = []  # whole clauses, else lines, else sentences
        for clause, block in blocks:
            if block and block[-1].end - block[0].start <= self.max_chars:
                units.append((block[0].start, block[-1].end, clause))
                continue
            for line in block:
                spans = [(line.start, line.end)] if line.end - line.start <= self.max_chars \
                    else _sentences(line)
                units += [(s, e, clause) for s, e in spans]
        pieces = _pack([(s, e) for s, e, _ in units], self.max_chars)
        places = []
        for start, end in pieces:
            clauses = list(dict.fromkeys(c for s, e, c in units if start <= s and e <= end and c))
            clause = None if not clauses else clauses[0] if len(clauses) == 1 else f"{clauses[0]}–{clauses[-1]}"
            places.append(self.place(m, clause))
        self.emit(pieces, "body", places)


def split_legal(doc_id: str, text: str, lines: list[Line], max_chars: int = MAX_CHARS) -> list[tuple[Passage, Place]]:
    """Passages of a legal document along its structure, each with its Place (see the module doc)."""
    articles = [i for i, line in enumerate(lines) if _article(line.text)]
    closing = next((i for i in range(articles[-1] + 1 if articles else len(lines), len(lines))
                    if _CLOSING.match(_nfc(lines[i].text))), len(lines))
    b = _Builder(doc_id, text, max_chars)
    i = 0
    while i < len(lines):
        if i >= closing:
            b.labels.clear()
            b.headings.clear()
            b.paragraph_line(lines[i])
            i += 1
        elif head := _heading(lines[i].text):
            level, label, name = head
            j = i + 1
            nxt = lines[j].text if j < closing else ""
            if not name and nxt and not _is_structural(nxt) and len(nxt.split()) <= 25 \
                    and not nxt.endswith("."):
                name, j = _nfc(nxt), j + 1  # "Chương I" / "QUY ĐỊNH CHUNG"
            b.heading(level, label, name, lines[i:j])
            i = j
        elif _article(lines[i].text):
            j = i + 1
            while j < closing and not _article(lines[j].text) and not _heading(lines[j].text):
                j += 1
            b.article(lines[i:j])
            i = j
        else:
            b.paragraph_line(lines[i])
            i += 1
    return b.out
