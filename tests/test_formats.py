"""indexer.formats on real files built here: DOCX (python-docx), PDF (reportlab + pypdf), HTML, text."""

import unicodedata
from pathlib import Path

import pytest

from indexer.formats import Extracted, UnreadableFile, extract, page_of

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
VI = "Bảo vệ chính trị nội bộ Đảng"
PARAGRAPH = ("Công tác bảo vệ chính trị nội bộ Đảng là nhiệm vụ quan trọng, thường xuyên của cả hệ thống "
             "chính trị, góp phần giữ vững sự đoàn kết thống nhất trong Đảng.")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def check_headings(extracted: Extracted) -> list[str]:
    for start, end, _ in extracted.headings:
        assert extracted.text[start:end].strip() == extracted.text[start:end] != ""
    return [extracted.text[s:e] for s, e, _ in extracted.headings]


# ---- DOCX ---------------------------------------------------------------------------------------

def test_docx_paragraphs_headings_table_and_title(tmp_path):
    import docx

    document = docx.Document()
    document.core_properties.title = "Báo cáo công tác năm 2023"
    document.core_properties.author = "Ban Tổ chức"
    document.add_heading("Báo cáo công tác năm 2023", level=0)
    document.add_heading("Phần một: Kết quả", level=1)
    document.add_paragraph("Năm qua, các cấp ủy đã triển khai nhiều giải pháp đồng bộ.")
    document.add_paragraph("Việc rà soát lịch sử chính trị được thực hiện nghiêm túc.")
    document.add_paragraph("")  # empty paragraphs are dropped
    table = document.add_table(rows=2, cols=3)
    for r, row in enumerate([["Đơn vị", "Số đảng viên", "Ghi chú"], ["Chi bộ 1", "25", "Tốt"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_heading("Phần hai: Nhiệm vụ", level=2)
    document.add_paragraph("Tiếp tục quán triệt sâu sắc các nghị quyết của Trung ương.")
    path = tmp_path / "bao-cao.docx"
    document.save(path)

    extracted = extract(path)
    assert extracted.kind == "docx"
    assert extracted.title == "Báo cáo công tác năm 2023" and extracted.author == "Ban Tổ chức"
    assert extracted.text == (
        "Báo cáo công tác năm 2023\n\n"
        "Phần một: Kết quả\n\n"
        "Năm qua, các cấp ủy đã triển khai nhiều giải pháp đồng bộ.\n\n"
        "Việc rà soát lịch sử chính trị được thực hiện nghiêm túc.\n\n"
        "Đơn vị | Số đảng viên | Ghi chú\nChi bộ 1 | 25 | Tốt\n\n"
        "Phần hai: Nhiệm vụ\n\n"
        "Tiếp tục quán triệt sâu sắc các nghị quyết của Trung ương."
    )
    assert check_headings(extracted) == ["Báo cáo công tác năm 2023", "Phần một: Kết quả", "Phần hai: Nhiệm vụ"]
    assert [level for _, _, level in extracted.headings] == [0, 1, 2]
    assert page_of(extracted, 10) is None


def test_docx_merged_cells_once(tmp_path):
    import docx

    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "Tổng hợp"
    for c, value in enumerate(["a", "b", "c"]):
        table.cell(1, c).text = value
    path = tmp_path / "bang.docx"
    document.save(path)
    assert extract(path).text == "Tổng hợp\na | b | c"


# ---- PDF ----------------------------------------------------------------------------------------

PAGE_LINES = [
    ["Chương I. Những quy định chung", "Điều 1. Phạm vi điều chỉnh của quy định này bao gồm công tác",
     "bảo vệ chính trị nội bộ trong các cơ quan của Đảng.", "Điều 2. Đối tượng áp dụng."],
    ["Chương II. Nội dung thẩm định", "Việc thẩm định tiêu chuẩn chính trị được thực hiện",
     "nghiêm túc, khách quan và đúng quy định."],
]


def make_pdf(path: Path, pages=PAGE_LINES) -> None:
    pytest.importorskip("reportlab")
    if not FONT.exists():
        pytest.skip("DejaVuSans.ttf (fonts-dejavu-core) is not installed")
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONT)))
    c = canvas.Canvas(str(path))
    c.setTitle("Quy định về bảo vệ chính trị nội bộ")
    c.setAuthor("Ban Tổ chức Trung ương")
    for lines in pages:
        c.setFont("DejaVuSans", 12)
        for i, line in enumerate(lines):
            c.drawString(72, 760 - 18 * i, line)
        c.showPage()
    c.save()


def test_pdf_pages_offsets_and_line_joining(tmp_path):
    path = tmp_path / "quy-dinh.pdf"
    make_pdf(path)
    extracted = extract(path)
    assert extracted.kind == "pdf"
    assert extracted.title == "Quy định về bảo vệ chính trị nội bộ"
    assert extracted.author == "Ban Tổ chức Trung ương"
    page1, page2 = extracted.text.split("\n\n")
    # A line break before a lower-case letter continues the paragraph; other breaks are kept.
    assert page1 == ("Chương I. Những quy định chung\n"
                     "Điều 1. Phạm vi điều chỉnh của quy định này bao gồm công tác bảo vệ chính trị nội bộ "
                     "trong các cơ quan của Đảng.\nĐiều 2. Đối tượng áp dụng.")
    assert page2 == ("Chương II. Nội dung thẩm định\n"
                     "Việc thẩm định tiêu chuẩn chính trị được thực hiện nghiêm túc, khách quan và đúng quy định.")
    # Page spans cover the text, in order, separated by the "\n\n" joints.
    assert [n for _, _, n in extracted.pages] == [1, 2]
    (s1, e1, _), (s2, e2, _) = extracted.pages
    assert (s1, e2) == (0, len(extracted.text)) and s2 == e1 + 2
    assert extracted.text[s1:e1] == page1 and extracted.text[s2:e2] == page2
    offset = extracted.text.index("nghiêm túc")
    assert page_of(extracted, offset) == 2
    assert page_of(extracted, extracted.text.index("Điều 2")) == 1
    assert page_of(extracted, e1 + 1) == 1  # between pages: the page before
    assert page_of(extracted, len(extracted.text) + 5) is None


def test_pdf_with_password_is_unreadable(tmp_path):
    from pypdf import PdfReader, PdfWriter

    plain = tmp_path / "plain.pdf"
    make_pdf(plain)
    writer = PdfWriter()
    for page in PdfReader(plain).pages:
        writer.add_page(page)
    writer.encrypt("secret")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as f:
        writer.write(f)
    with pytest.raises(UnreadableFile, match="mật khẩu"):
        extract(locked)


def test_truncated_pdf_is_unreadable(tmp_path):
    plain = tmp_path / "plain.pdf"
    make_pdf(plain)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(plain.read_bytes()[:400])
    with pytest.raises(UnreadableFile, match="PDF"):
        extract(broken)


# ---- HTML ---------------------------------------------------------------------------------------

NEWS_PAGE = """<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8">
<title>Đổi mới công tác bảo vệ chính trị nội bộ - Báo Điện tử Đảng</title>
<meta property="og:title" content="Đổi mới công tác bảo vệ chính trị nội bộ">
<meta property="article:published_time" content="2023-05-17T08:30:00+07:00">
<meta name="author" content="Nguyễn Văn An">
</head><body>
<header><nav class="menu"><ul>
<li><a href="/">Trang chủ</a></li><li><a href="/thoi-su">Thời sự</a></li>
<li><a href="/kinh-te">Kinh tế</a></li><li><a href="/xa-hoi">Xã hội</a></li></ul></nav></header>
<main><article>
<h1>Đổi mới công tác bảo vệ chính trị nội bộ</h1>
<p>Công tác bảo vệ chính trị nội bộ Đảng là nhiệm vụ quan trọng, thường xuyên của cả hệ thống chính trị,
góp phần giữ vững sự đoàn kết thống nhất trong Đảng.</p>
<h2>Những kết quả nổi bật</h2>
<p>Trong năm qua, các cấp ủy đã triển khai nhiều giải pháp đồng bộ, nâng cao chất lượng thẩm định tiêu chuẩn
chính trị của cán bộ, đảng viên.</p>
<p>Việc rà soát lịch sử chính trị được thực hiện nghiêm túc, đúng quy định, bảo đảm khách quan và công khai.</p>
<h2>Nhiệm vụ thời gian tới</h2>
<p>Các địa phương cần tiếp tục quán triệt sâu sắc các nghị quyết, chỉ thị của Trung ương về công tác bảo vệ
chính trị nội bộ trong tình hình mới.</p>
</article>
<section class="related"><h3>Tin liên quan</h3><ul>
<li><a href="/a1">Hội nghị tổng kết công tác tổ chức xây dựng Đảng năm 2022</a></li>
<li><a href="/a2">Tăng cường kiểm tra, giám sát trong Đảng</a></li></ul></section>
<div id="comments" class="comments"><h3>Bình luận</h3>
<div class="comment"><p>Bài viết rất hay và bổ ích, cảm ơn tác giả đã chia sẻ thông tin này.</p></div>
<div class="comment"><p>Tôi hoàn toàn đồng ý với quan điểm của bài viết, cần làm mạnh mẽ hơn nữa.</p></div>
</div></main>
<footer><p>Bản quyền thuộc về Báo Điện tử Đảng. Địa chỉ: 123 Đường ABC, Hà Nội.</p></footer>
</body></html>
"""


def test_html_article_without_chrome(tmp_path):
    path = tmp_path / "bai-viet.html"
    path.write_text(NEWS_PAGE, encoding="utf-8")
    extracted = extract(path)
    assert extracted.kind == "html"
    assert extracted.title == "Đổi mới công tác bảo vệ chính trị nội bộ"
    assert extracted.author == "Nguyễn Văn An"
    assert extracted.date == "2023-05-17"
    blocks = extracted.text.split("\n\n")
    assert blocks[0] == extracted.title  # the first line is the title, as the cleaning expects
    assert "Công tác bảo vệ chính trị nội bộ Đảng là nhiệm vụ quan trọng, thường xuyên của cả hệ thống chính trị, " \
           "góp phần giữ vững sự đoàn kết thống nhất trong Đảng." in blocks
    assert blocks[-1].startswith("Các địa phương cần tiếp tục quán triệt")
    assert len(blocks) == 7
    for chrome in ("Trang chủ", "Kinh tế", "Tin liên quan", "Hội nghị tổng kết", "Bình luận", "bổ ích",
                   "đồng ý", "Bản quyền"):
        assert chrome not in extracted.text
    assert check_headings(extracted) == [extracted.title, "Những kết quả nổi bật", "Nhiệm vụ thời gian tới"]
    assert [level for _, _, level in extracted.headings] == [1, 2, 2]


def test_html_title_put_first_when_h1_is_outside_the_article(tmp_path):
    page = NEWS_PAGE.replace("<main><article>\n<h1>Đổi mới công tác bảo vệ chính trị nội bộ</h1>",
                             "<div class='banner'><h1>Đổi mới công tác bảo vệ chính trị nội bộ</h1></div><main><article>")
    path = tmp_path / "bai-viet.htm"
    path.write_bytes(page.encode("utf-8"))
    extracted = extract(path)
    assert extracted.text.startswith(extracted.title + "\n\n")
    assert extracted.text.count(extracted.title + "\n") == 1
    assert check_headings(extracted)[0] == extracted.title


def test_html_without_content_is_unreadable(tmp_path):
    path = tmp_path / "trong.html"
    path.write_text("<html><head><title>x</title></head><body><nav><a href='/'>Trang chủ</a></nav></body></html>")
    with pytest.raises(UnreadableFile, match="nội dung"):
        extract(path)
