"""A regulation indexed beside the news: passages follow its articles and "Điều 5 Quy định 58" finds article 5."""

import shutil

import httpx
import pytest

from tests.conftest import CORPUS, run_tracuu, start_server


REGULATION = """BỘ CHÍNH TRỊ
Số 58-QĐ/TW

QUY ĐỊNH
Một số vấn đề về bảo vệ chính trị nội bộ Đảng

Căn cứ Điều lệ Đảng; Bộ Chính trị ban hành Quy định số 58-QĐ/TW ngày 8-2-2022 như sau:

Chương I
NHỮNG QUY ĐỊNH CHUNG

Điều 1. Phạm vi điều chỉnh
Quy định này quy định một số vấn đề về bảo vệ chính trị nội bộ Đảng.

Điều 2. Đối tượng áp dụng
Quy định này áp dụng đối với tổ chức đảng, đảng viên và cán bộ, công chức, viên chức.

Chương II
NỘI DUNG BẢO VỆ CHÍNH TRỊ NỘI BỘ

Điều 3. Lịch sử chính trị
1. Lịch sử chính trị của cán bộ, đảng viên được xem xét theo quá trình công tác.
2. Việc thẩm tra lịch sử chính trị phải khách quan, đúng quy trình.

Điều 4. Chính trị hiện nay
Chính trị hiện nay là quan điểm, tư tưởng và việc chấp hành đường lối của Đảng.

Điều 5. Trách nhiệm của cấp ủy
1. Cấp ủy các cấp chịu trách nhiệm lãnh đạo, chỉ đạo công tác bảo vệ chính trị nội bộ.
2. Người đứng đầu cấp ủy trực tiếp chịu trách nhiệm về kết luận tiêu chuẩn chính trị.

Điều 6. Hiệu lực thi hành
Quy định này có hiệu lực kể từ ngày ký.
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("legal")
    corpus = folder / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "quy-dinh-58.txt").write_text(REGULATION, encoding="utf-8")
    assert run_tracuu("index", "--corpus", str(corpus), "--index", str(folder / "index")).returncode == 0
    url, proc = start_server(folder / "index")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_article_passages_name_their_place(server):
    doc = httpx.get(f"{server}/api/documents/quy-dinh-58").json()
    places = [p["place"] for p in doc["passages"] if p["place"]]
    assert "Chương II, Điều 5" in places or any(p.startswith("Chương II, Điều 5") for p in places)
    article5 = [p for p in doc["passages"] if p["place"] and "Điều 5" in p["place"]]
    assert article5 and all("Điều 6" not in p["text"] for p in article5)
    assert all(doc["text"][p["start"]:p["end"]] == p["text"] for p in doc["passages"])


@pytest.mark.parametrize("query", ["Điều 5 Quy định 58 nói gì?", "dieu 5 quy dinh 58 qd tw"])
def test_article_of_a_named_regulation_comes_first(server, query):
    body = httpx.get(f"{server}/api/search", params={"q": query, "k": 3}).json()
    top = body["results"][0]
    assert top["citation"]["doc_id"] == "quy-dinh-58"
    assert "Điều 5" in top["citation"]["place"]
    assert "Trách nhiệm của cấp ủy" in top["text"]
