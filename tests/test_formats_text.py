"""indexer.formats on plain text files (encodings, Markdown), unreadable and very large files."""

import os
import time
import tracemalloc
import unicodedata

import pytest

from indexer.formats import SUFFIXES, UnreadableFile, extract
from tests.test_formats import NEWS_PAGE, PARAGRAPH, VI, check_headings, nfc

# ---- plain text ---------------------------------------------------------------------------------

TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def to_cp1258(text: str) -> bytes:
    """Encode as Windows-1258 does: precomposed letters where the code page has them, tones as combining
    marks. (Python's cp1258 codec only maps single code points, so "ả" must be split by hand.)"""
    out = bytearray()
    for ch in text:
        decomposed = unicodedata.normalize("NFD", ch)
        base = nfc("".join(c for c in decomposed if c not in TONES))
        out += (base + "".join(c for c in decomposed if c in TONES)).encode("cp1258")
    return bytes(out)


@pytest.mark.parametrize(
    "encode, encoding",
    [
        (lambda s: s.encode("utf-8"), "utf-8"),
        (lambda s: s.encode("utf-8-sig"), "utf-8-sig"),
        (lambda s: s.encode("utf-16"), "utf-16"),
        (lambda s: s.encode("utf-16-le"), "utf-16-le"),
        (lambda s: s.encode("utf-16-be"), "utf-16-be"),
        (to_cp1258, "cp1258"),
    ],
)
def test_text_encodings(tmp_path, encode, encoding):
    original = f"{VI}\n\n{PARAGRAPH}\r\nNgày 12/3/2024: Hội nghị lần thứ 8.\n"
    data = encode(original)
    if encoding == "cp1258":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        assert nfc(data.decode("cp1258")) == original  # the codec round-trips after NFC
    path = tmp_path / "van-ban.txt"
    path.write_bytes(data)
    extracted = extract(path)
    assert extracted.kind == "text" and extracted.encoding == encoding
    assert extracted.text == original  # BOM dropped, nothing else changed (cp1258: NFC of the decoded text)
    assert extracted.pages == [] and extracted.headings == []


def test_markdown_kept_verbatim(tmp_path):
    path = tmp_path / "ghi-chu.md"
    path.write_text(f"# {VI}\n\n{PARAGRAPH}\n", encoding="utf-8")
    assert extract(path).text == f"# {VI}\n\n{PARAGRAPH}\n"


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("rac.txt", os.urandom(3000) + b"\x00" * 50 + os.urandom(3000), "nhị phân"),
        ("dieu-khien.txt", bytes(range(1, 32)) * 100, "nhị phân"),
        ("rong.txt", b"", "tệp rỗng"),
        ("trang.md", b"  \n\t\r\n   \n", "tệp rỗng"),
        ("trang16.txt", " \n \n".encode("utf-16"), "tệp rỗng"),
        ("hong.docx", os.urandom(5000), r"\.docx hỏng"),
        ("rong.pdf", b"", "tệp rỗng"),
        ("khong-phai.pdf", b"%PDF-1.4\n" + os.urandom(2000), "PDF"),
    ],
)
def test_unreadable_files(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnreadableFile, match=reason):
        extract(path)


def test_docx_zip_without_document_part(tmp_path):
    import zipfile

    path = tmp_path / "thieu.docx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(UnreadableFile, match=r"\.docx hỏng"):
        extract(path)


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "anh.jpg"
    path.write_bytes(b"\xff\xd8\xff")
    assert ".jpg" not in SUFFIXES
    with pytest.raises(UnreadableFile, match="không được hỗ trợ|chưa được hỗ trợ"):
        extract(path)


def test_50mb_text_bounded_memory(tmp_path):
    paragraph = PARAGRAPH + "\n\n"
    chunk = paragraph * 1000
    chunk_bytes = chunk.encode("utf-8")
    repeats = -(-50 * 1024 * 1024 // len(chunk_bytes))
    path = tmp_path / "lon.txt"
    with path.open("wb") as f:
        for _ in range(repeats):
            f.write(chunk_bytes)
    size = path.stat().st_size
    assert size >= 50 * 1024 * 1024

    tracemalloc.start()
    started = time.perf_counter()
    try:
        extracted = extract(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    assert extracted.encoding == "utf-8"
    assert len(extracted.text) == len(chunk) * repeats
    assert extracted.text[:len(paragraph)] == paragraph
    assert peak < 4 * size, f"peak {peak / 1e6:.0f} MB for a {size / 1e6:.0f} MB file"
    assert elapsed < 20


def test_html_line_breaks_quotes_lists_tables(tmp_path):
    page = """<html><head><meta charset="utf-8"><title>Hội nghị Trung ương 8</title></head><body>
<nav><a href="/">Trang chủ</a> <a href="/ct">Chính trị</a></nav>
<div class="detail"><h1 class="title">Hội nghị Trung ương 8 khóa XIII bế mạc</h1>
<div class="content">
<p>Phát biểu bế mạc, Tổng Bí thư nhấn mạnh hội nghị đã hoàn thành toàn bộ nội dung chương trình.<br>Đây là
dòng thứ hai của đoạn văn này sau thẻ xuống dòng.</p>
<blockquote><p>Câu trích dẫn thứ nhất rất quan trọng đối với toàn Đảng.</p><p>Câu trích dẫn thứ hai cũng rất
quan trọng đối với toàn dân.</p></blockquote>
<div class="box-related"><strong>Tin liên quan</strong><ul><li><a href="/x">Khai mạc Hội nghị Trung ương 8</a></li>
<li><a href="/y">Trung ương thảo luận về chiến lược bảo vệ Tổ quốc</a></li></ul></div>
<p>Hội nghị đã thảo luận, thống nhất cao và ban hành nghị quyết về chiến lược bảo vệ Tổ quốc trong tình hình mới.</p>
<ul><li>Nội dung thứ nhất của danh sách các vấn đề được thảo luận.</li><li>Nội dung thứ hai của danh sách.</li></ul>
<table><tr><th>Đơn vị</th><th>Số lượng</th></tr><tr><td>Tỉnh A</td><td>12</td></tr></table>
<p><b>Minh Anh</b></p>
</div></div></body></html>"""
    path = tmp_path / "hoi-nghi.html"
    path.write_text(page, encoding="utf-8")
    extracted = extract(path)
    assert extracted.text == (
        "Hội nghị Trung ương 8 khóa XIII bế mạc\n\n"
        "Phát biểu bế mạc, Tổng Bí thư nhấn mạnh hội nghị đã hoàn thành toàn bộ nội dung chương trình.\n"
        "Đây là dòng thứ hai của đoạn văn này sau thẻ xuống dòng.\n\n"
        "Câu trích dẫn thứ nhất rất quan trọng đối với toàn Đảng.\n\n"
        "Câu trích dẫn thứ hai cũng rất quan trọng đối với toàn dân.\n\n"
        "Hội nghị đã thảo luận, thống nhất cao và ban hành nghị quyết về chiến lược bảo vệ Tổ quốc trong tình hình mới.\n\n"
        "Nội dung thứ nhất của danh sách các vấn đề được thảo luận.\nNội dung thứ hai của danh sách.\n\n"
        "Đơn vị | Số lượng\nTỉnh A | 12\n\n"
        "Minh Anh"
    )
    assert check_headings(extracted) == ["Hội nghị Trung ương 8 khóa XIII bế mạc"]


def test_extracted_text_feeds_the_indexer(tmp_path):
    """The built text goes through the existing line cleaning and passage splitter with exact offsets."""
    from indexer.documents import parse_document

    path = tmp_path / "bai-viet.html"
    path.write_text(NEWS_PAGE, encoding="utf-8")
    extracted = extract(path)
    document = parse_document("bai-viet.html", extracted.text, "0" * 64)
    assert document.title == extracted.title
    assert [p.text for p in document.passages][:2] == [
        extracted.text.split("\n\n")[1], "Những kết quả nổi bật"]
    for passage in document.passages:
        assert extracted.text[passage.start:passage.end] == passage.text


@pytest.mark.parametrize("mark_at", [(1 << 20) - 1, 1 << 20])  # last byte of a block, first of the next
def test_cp1258_tone_mark_at_read_block_edges(tmp_path, mark_at):
    """The file is decoded and NFC-normalized in 1 MiB blocks; a letter and its tone mark are never split."""
    line = "Bảo vệ chính trị nội bộ Đảng.\n"
    text = "x" * (mark_at - 1) + "ả\n" + line * 40000  # "ả" is b"a\xd2" in Windows-1258
    data = b"x" * (mark_at - 1) + to_cp1258("ả\n") + to_cp1258(line) * 40000
    assert data[mark_at - 1:mark_at + 1] == b"a\xd2"
    path = tmp_path / "cp1258.txt"
    path.write_bytes(data)
    extracted = extract(path)
    assert extracted.encoding == "cp1258"
    assert extracted.text == text


def test_docx_soft_line_break_kept(tmp_path):
    import docx

    document = docx.Document()
    paragraph = document.add_paragraph("Nơi nhận:")
    paragraph.add_run().add_break()
    paragraph.add_run("- Như trên;")
    document.add_paragraph("Lưu: VT.")
    path = tmp_path / "noi-nhan.docx"
    document.save(path)
    assert extract(path).text == "Nơi nhận:\n- Như trên;\n\nLưu: VT."
