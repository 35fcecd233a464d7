"""Read a document file (.txt, .md, .html, .htm, .pdf, .docx) into the text that passages will cite.

Offsets (`pages`, `headings`, and later every passage) always refer to `Extracted.text`:

- Text files: `text` is the decoded file, unchanged. The codec: the BOM's (UTF-8/16/32), else UTF-16
  when zero bytes sit at alternate positions, else UTF-8, else Windows-1258. A BOM is not part of
  `text` ("utf-8-sig", "utf-16" codecs): offsets count from the first character after it.
  Windows-1258 writes tones as combining marks, so for it `text` is the NFC form of the decoded file;
  that no longer matches the bytes on disk, so the indexer must store it. Files are decoded in blocks:
  peak memory is about 3x the file size (the decoded blocks plus the joined text).
- HTML (trafilatura), PDF (pypdf) and DOCX (python-docx): `text` is built here, NFC, one paragraph
  per line with a blank line between blocks (the shape indexer.cleaning expects), and must be stored.

Every failure is an `UnreadableFile` whose message, in Vietnamese, says why the file was skipped.
"""

from __future__ import annotations

import bisect
import codecs
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

SUFFIXES = {".txt", ".md", ".html", ".htm", ".pdf", ".docx"}

# Control characters that never occur in real text (tab, newlines, form feed and vertical tab do).
_CONTROLS = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r\f\v"] + ["\x7f"]
MAX_CONTROL_SHARE = 0.01
_BOMS = [  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"),
]
_PLACEHOLDER_META = {"untitled", "anonymous", "(anonymous)", "unknown"}  # reportlab/Word defaults


@dataclass
class Extracted:
    text: str  # the text passages cite (see the module docstring for how it relates to the file)
    kind: str  # "text" | "html" | "pdf" | "docx"
    title: str | None = None
    author: str | None = None
    date: str | None = None  # ISO date, when the format says (HTML publication date)
    encoding: str | None = None  # text files: the codec that decoded the file
    pages: list[tuple[int, int, int]] = field(default_factory=list)  # PDF: (start, end, 1-based page)
    headings: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, level); 0 = title


class UnreadableFile(Exception):
    """The file cannot be indexed; str(exc) is a Vietnamese reason for the index summary."""


def extract(path: Path) -> Extracted:
    suffix = path.suffix.lower()
    readers = {".txt": _text, ".md": _text, ".html": _html, ".htm": _html, ".pdf": _pdf, ".docx": _docx}
    if suffix not in readers:
        raise UnreadableFile(f"định dạng {suffix or '(không có đuôi)'} chưa được hỗ trợ")
    try:
        if path.stat().st_size == 0:
            raise UnreadableFile("tệp rỗng")
        return readers[suffix](path)
    except OSError as exc:
        raise UnreadableFile(f"không mở được tệp: {exc.strerror or exc}") from exc


def page_of(extracted: Extracted, offset: int) -> int | None:
    """The 1-based PDF page holding text[offset]; the page before when offset falls between pages.
    None for formats without pages or an offset outside the text."""
    if not extracted.pages or not 0 <= offset <= len(extracted.text):
        return None
    i = bisect.bisect_right([start for start, _, _ in extracted.pages], offset) - 1
    return extracted.pages[max(i, 0)][2]


# ---- plain text ---------------------------------------------------------------------------------

def _guess_encoding(data: bytes) -> str | None:
    """The codec for a BOM, or UTF-16 without BOM when zero bytes sit (almost) only at odd or even
    positions, as ASCII letters do in UTF-16. None otherwise."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return codec
    sample = data[:65536]
    half = max(len(sample) // 2, 1)
    even, odd = sample[0::2].count(0) / half, sample[1::2].count(0) / half
    if odd > 0.2 and even < 0.02:
        return "utf-16-le"
    if even > 0.2 and odd < 0.02:
        return "utf-16-be"
    return None


def _decode(path: Path, codec: str, nfc: bool = False) -> str:
    """The whole file decoded block by block, so the bytes are never all in memory next to the text.
    With nfc, each block is normalized on its own; the last letter of a block and its combining marks
    wait for the next block, since more marks may follow."""
    decoder = codecs.getincrementaldecoder(codec)()
    parts, carry = [], ""
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            piece = carry + decoder.decode(block)
            if nfc:
                cut = len(piece) - 1
                while cut > 0 and unicodedata.combining(piece[cut]):
                    cut -= 1
                cut = max(cut, 0)
                piece, carry = unicodedata.normalize("NFC", piece[:cut]), piece[cut:]
            parts.append(piece)
    tail = carry + decoder.decode(b"", final=True)
    parts.append(unicodedata.normalize("NFC", tail) if nfc else tail)
    return "".join(parts)


def _text(path: Path) -> Extracted:
    try:
        with path.open("rb") as f:
            head = f.read(65536)
        encoding = _guess_encoding(head)
        if encoding:
            text = _decode(path, encoding)
        else:
            if b"\x00" in head:
                raise UnreadableFile("tệp nhị phân (có byte NUL), không phải văn bản")
            try:
                text, encoding = _decode(path, "utf-8"), "utf-8"
            except UnicodeDecodeError:
                # Windows-1258 writes most tones as combining marks: store the NFC form.
                text, encoding = _decode(path, "cp1258", nfc=True), "cp1258"
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"tệp nhị phân hoặc bảng mã không nhận ra ({encoding or 'cp1258'})") from exc
    if "\x00" in text:
        raise UnreadableFile("tệp nhị phân (có ký tự NUL), không phải văn bản")
    controls = sum(text.count(c) for c in _CONTROLS)  # linear, no copies
    if controls > MAX_CONTROL_SHARE * len(text):
        raise UnreadableFile(f"tệp nhị phân ({controls} ký tự điều khiển), không phải văn bản")
    if not re.search(r"\S", text):
        raise UnreadableFile("tệp rỗng")
    return Extracted(text=text, kind="text", encoding=encoding)


# ---- building text from paragraphs -----------------------------------------------------------------

def _clean(text: str) -> str:
    """One line of text: NFC, whitespace runs (including line breaks) collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _meta(value) -> str | None:
    value = _clean(str(value)) if value else ""
    return value if value and value.casefold() not in _PLACEHOLDER_META else None


class _Builder:
    """Collects blocks (paragraphs, headings, tables) into text with blank lines between blocks."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.headings: list[tuple[int, int, int]] = []

    def add(self, block: str, heading_level: int | None = None) -> None:
        if not block:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        if heading_level is not None:
            self.headings.append((self.length, self.length + len(block), heading_level))
        self.parts.append(block)
        self.length += len(block)

    def text(self) -> str:
        return "".join(self.parts)


def _rows(rows: list[list[str]]) -> str:
    """A table: one line per row, cells joined by " | ", empty rows left out."""
    return "\n".join(line for line in (" | ".join(row) for row in rows) if line.strip(" |"))


# ---- HTML ---------------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")  # newlines in HTML source are just spaces
_HTML_BLOCKS = {"p", "head", "list", "table", "quote", "code", "div"}


def _inline(element) -> str:
    """An element's text, with <lb/> (a <br> in the page) as the only line break."""
    parts = [_SPACES.sub(" ", element.text or "")]
    for child in element:
        parts.append("\n" if child.tag == "lb" else _inline(child))
        parts.append(_SPACES.sub(" ", child.tail or ""))
    return "".join(parts)


def _lines(text: str) -> str:
    return "\n".join(line for line in map(_clean, text.split("\n")) if line)


def _html_blocks(parent, out: _Builder) -> None:
    """Walk trafilatura's cleaned tree: <head rend="hN">, <p>, <list><item>, <table><row><cell>,
    <quote>/<div> holding further blocks."""
    for element in parent:
        if element.tag == "head":
            level = re.sub(r"\D", "", element.get("rend") or "") or "2"
            out.add(_clean(_inline(element)), int(level))
        elif element.tag == "list":
            out.add("\n".join(line for item in element.iter("item") if (line := _clean(_inline(item)))))
        elif element.tag == "table":
            out.add(_rows([[_clean(_inline(c)) for c in row.iter("cell")] for row in element.iter("row")]))
        elif any(child.tag in _HTML_BLOCKS for child in element):
            out.add(_clean(element.text or ""))
            for child in element:  # inline children and tails between blocks become blocks of their own
                if child.tag in _HTML_BLOCKS:
                    _html_blocks([child], out)
                elif child.tag != "lb":
                    out.add(_lines(_inline(child)))
                out.add(_clean(child.tail or ""))
        else:
            out.add(_lines(_inline(element)))


def _html(path: Path) -> Extracted:
    import trafilatura

    data = path.read_bytes()  # trafilatura finds the charset (meta tag, BOM or guess)
    try:
        doc = trafilatura.bare_extraction(data, with_metadata=True, include_comments=False,
                                          include_tables=True, favor_precision=True)
    except Exception as exc:  # trafilatura/lxml errors on broken markup
        raise UnreadableFile(f"không phân tích được HTML: {exc}") from exc
    if doc is None or doc.body is None:
        raise UnreadableFile("không tìm thấy nội dung chính trong trang HTML")
    title = _meta(doc.title)
    out = _Builder()
    _html_blocks(doc.body, out)
    text = out.text()
    if not text:
        raise UnreadableFile("không tìm thấy nội dung chính trong trang HTML")
    headings = out.headings
    if title and _clean(text.split("\n", 1)[0]).casefold() != title.casefold():
        # The article <h1> was left out: put the title first, where the cleaning looks for it.
        text = title + "\n\n" + text
        shift = len(title) + 2
        headings = [(0, len(title), 1)] + [(s + shift, e + shift, lv) for s, e, lv in headings]
    return Extracted(text=text, kind="html", title=title, author=_meta(doc.author), date=_meta(doc.date),
                     headings=headings)


# ---- PDF ----------------------------------------------------------------------------------------

def _pdf_page_text(raw: str) -> str:
    """Lines of one page, with a hard line break followed by a lower-case letter joined by a space
    (the line continues the paragraph). Every other line break is kept: one paragraph per line."""
    paragraphs: list[str] = []
    for line in unicodedata.normalize("NFC", raw).splitlines():
        line = " ".join(line.split())
        if not line:
            continue
        if paragraphs and line[0].islower():
            paragraphs[-1] += " " + line
        else:
            paragraphs.append(line)
    return "\n".join(paragraphs)


def _pdf(path: Path) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except DependencyError as exc:
                raise UnreadableFile("PDF mã hoá AES: cần cài thêm thư viện cryptography") from exc
            if not opened:
                raise UnreadableFile("PDF có mật khẩu, không mở được")
        pages = list(reader.pages)
        info = reader.metadata
    except UnreadableFile:
        raise
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise UnreadableFile(f"tệp PDF hỏng: {exc}") from exc
    texts = []
    for page in pages:
        try:
            texts.append(_pdf_page_text(page.extract_text() or ""))
        except Exception:  # one damaged page: keep its number, with no text
            texts.append("")
    if not any(texts):
        raise UnreadableFile("PDF không có lớp chữ (có thể là bản scan) hoặc bị hỏng")
    spans, start = [], 0
    for number, page_text in enumerate(texts, 1):
        spans.append((start, start + len(page_text), number))
        start += len(page_text) + 2
    return Extracted(text="\n\n".join(texts), kind="pdf", title=_meta(info and info.title),
                     author=_meta(info and info.author), pages=spans)


# ---- DOCX ---------------------------------------------------------------------------------------

def _heading_level(style_name: str) -> int | None:
    if style_name == "Title":
        return 0
    match = re.fullmatch(r"Heading (\d)", style_name)
    return int(match.group(1)) if match else None


def _docx(path: Path) -> Extracted:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(str(path))
        out = _Builder()
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                rows = []
                for row in block.rows:
                    cells, seen = [], set()
                    for cell in row.cells:  # a merged cell is returned once per grid column it spans
                        if cell._tc not in seen:
                            seen.add(cell._tc)
                            cells.append(_clean(cell.text))
                    rows.append(cells)
                out.add(_rows(rows))
            else:
                level = _heading_level((block.style.name if block.style is not None else "") or "")
                out.add(_clean(block.text) if level is not None else _lines(block.text), level)
        props = document.core_properties
    except Exception as exc:  # not a zip, missing parts, broken XML ...
        raise UnreadableFile(f"tệp .docx hỏng hoặc không phải .docx: {exc}") from exc
    text = out.text()
    if not text:
        raise UnreadableFile("tệp .docx không có chữ")
    return Extracted(text=text, kind="docx", title=_meta(props.title), author=_meta(props.author),
                     headings=out.headings)
