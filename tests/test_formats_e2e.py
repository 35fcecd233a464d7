"""A corpus of real .docx, .pdf, .html and odd text files through `tracuu index` and the server."""


import httpx
import pytest

from tests.conftest import run_tracuu, start_server
from tests.test_formats import NEWS_PAGE, make_pdf
from tests.test_formats_text import to_cp1258


CP1258_TEXT = "Hội nghị cán bộ tỉnh Kiên Giang\n\nHội nghị đã thống nhất kế hoạch trồng 5.000 cây xanh ven biển trong năm nay.\n"


def _docx(path):
    import docx

    d = docx.Document()
    d.core_properties.title = "Quy chế làm việc của Chi bộ"
    d.add_heading("Quy chế làm việc của Chi bộ", level=0)
    d.add_heading("Nhiệm vụ của chi ủy", level=1)
    d.add_paragraph("Chi ủy họp thường kỳ mỗi tháng một lần vào ngày mùng năm để đánh giá công tác tháng trước.")
    d.add_heading("Chế độ báo cáo", level=1)
    d.add_paragraph("Bí thư chi bộ báo cáo Đảng ủy cấp trên bằng văn bản trước ngày 20 hằng tháng.")
    d.save(path)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mixed")
    corpus = folder / "corpus"
    (corpus / "sub").mkdir(parents=True)
    _docx(corpus / "quy-che.docx")
    make_pdf(corpus / "sub" / "quy-dinh.pdf")
    (corpus / "bai-viet.html").write_text(NEWS_PAGE, encoding="utf-8")
    (corpus / "kien-giang.txt").write_bytes(to_cp1258(CP1258_TEXT))
    (corpus / "utf16.txt").write_text("Thông báo\n\nBuổi sinh hoạt chuyên đề về chuyển đổi số sẽ tổ chức vào thứ Sáu.\n", encoding="utf-16")
    # Bad files: each is named in the summary with its reason, and the rest is indexed.
    (corpus / "rong.txt").write_bytes(b"")
    (corpus / "nhi-phan.txt").write_bytes(bytes(range(256)) * 40)
    (corpus / "hong.docx").write_bytes(b"PK\x03\x04 this is not really a docx")
    index = folder / "index"
    result = run_tracuu("index", "--corpus", str(corpus), "--index", str(index))
    url, proc = start_server(index)
    yield result, url
    proc.terminate()
    proc.wait(timeout=20)


def test_bad_files_are_named_and_the_rest_indexed(mixed):
    result, _ = mixed
    assert result.returncode == 3, result.stderr  # partial success
    for name in ("rong.txt", "nhi-phan.txt", "hong.docx"):
        assert name in result.stderr
    assert "5 tài liệu" in result.stdout


def _ask(url, q, k=3):
    return httpx.get(f"{url}/api/search", params={"q": q, "k": k}).json()["results"]


def _check_offsets(url, hit):
    doc = httpx.get(f"{url}/api/documents/{hit['citation']['doc_id']}").json()
    c = hit["citation"]
    assert doc["text"][c["start"]:c["end"]] == hit["text"]
    return doc


def test_docx_passages_and_citation(mixed):
    _, url = mixed
    hit = _ask(url, "Chi ủy họp mấy lần một tháng?")[0]
    assert "mỗi tháng một lần" in hit["text"]
    assert hit["citation"]["source"] == "quy-che.docx" and hit["citation"]["title"] == "Quy chế làm việc của Chi bộ"
    assert _check_offsets(url, hit)["kind"] == "docx"


def test_pdf_citation_carries_the_page(mixed):
    _, url = mixed
    hits = _ask(url, "thẩm định tiêu chuẩn chính trị nghiêm túc khách quan", k=5)
    hit = next(h for h in hits if h["citation"]["source"] == "sub/quy-dinh.pdf")
    assert hit["citation"]["page"] == 2
    _check_offsets(url, hit)


def test_html_without_site_chrome(mixed):
    _, url = mixed
    doc = httpx.get(f"{url}/api/documents/bai-viet").json()
    assert doc["kind"] == "html" and doc["date"] == "2023-05-17"
    assert "Tin liên quan" not in doc["text"] and "Bình luận" not in doc["text"] and "Bản quyền" not in doc["text"]
    assert "đoàn kết thống nhất trong Đảng" in doc["text"]


def test_legacy_encodings_are_read(mixed):
    _, url = mixed
    hit = _ask(url, "trồng bao nhiêu cây xanh ven biển")[0]
    assert "5.000 cây xanh" in hit["text"] and hit["citation"]["source"] == "kien-giang.txt"
    hit = _ask(url, "sinh hoạt chuyên đề chuyển đổi số")[0]
    assert hit["citation"]["source"] == "utf16.txt"
    _check_offsets(url, hit)
