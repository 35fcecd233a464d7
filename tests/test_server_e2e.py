"""The real server: `tracuu serve` in its own process on a free loopback port, spoken to over HTTP."""

import httpx
import pytest

from tests.conftest import CORPUS



def test_health(live_server):
    body = httpx.get(f"{live_server}/healthz").json()
    assert body["status"] == "ok" and body["passages"] >= 50


def test_search_returns_cited_passages(live_server):
    r = httpx.get(f"{live_server}/api/search", params={"q": "Tỉnh Bình Thuận có bao nhiêu dân?", "k": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "Tỉnh Bình Thuận có bao nhiêu dân?"
    assert body["took_ms"] > 0
    assert [h["rank"] for h in body["results"]] == [1, 2, 3]
    assert any("1,3 triệu dân" in h["text"] for h in body["results"])
    for hit in body["results"]:
        c = hit["citation"]
        file_text = (CORPUS / c["source"]).read_bytes().decode("utf-8")
        assert file_text[c["start"]:c["end"]] == hit["text"]
        assert c["title"] == file_text.splitlines()[0].strip()
        assert c["paragraph"] >= 1


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_modes(live_server, mode):
    r = httpx.get(f"{live_server}/api/search", params={"q": "Kế hoạch số 139", "k": 5, "mode": mode})
    assert r.status_code == 200
    assert r.json()["mode"] == mode
    assert any("Kế hoạch số 139" in h["text"] for h in r.json()["results"])


def test_document_endpoint(live_server):
    r = httpx.get(f"{live_server}/api/documents/003_2cb5ba63ba071e47")
    assert r.status_code == 200
    doc = r.json()
    assert doc["title"] == "Nhiều biện pháp bảo vệ chính trị nội bộ"
    assert doc["byline"] == "TRƯỜNG SƠN lược ghi"
    assert all(doc["text"][p["start"]:p["end"]] == p["text"] for p in doc["passages"])


@pytest.mark.parametrize(
    "params,words",
    [
        ({"q": ""}, "trống"),
        ({"q": "   "}, "trống"),
        ({"q": "a" * 1001}, "1000"),
        ({"q": "hỏi", "k": 0}, "k"),
        ({"q": "hỏi", "k": 51}, "k"),
        ({"q": "hỏi", "k": "năm"}, "k"),
        ({"q": "hỏi", "mode": "magic"}, "magic"),
        ({}, "q"),
    ],
)
def test_bad_queries_get_422_with_a_message(live_server, params, words):
    r = httpx.get(f"{live_server}/api/search", params=params)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, str) and words in detail


def test_unknown_document_is_404(live_server):
    r = httpx.get(f"{live_server}/api/documents/khong-co")
    assert r.status_code == 404
    assert "khong-co" in r.json()["detail"]


def test_pages(live_server):
    home = httpx.get(f"{live_server}/")
    assert home.status_code == 200 and "<form" in home.text and 'name="q"' in home.text
    page = httpx.get(f"{live_server}/", params={"q": "Quy chế số 05 là về việc gì?"})
    assert page.status_code == 200
    assert "quản lý thống nhất các hoạt động đối ngoại" in page.text
    assert "/documents/003_2cb5ba63ba071e47?passage=" in page.text
    doc = httpx.get(f"{live_server}/documents/003_2cb5ba63ba071e47", params={"passage": "003_2cb5ba63ba071e47:14"})
    assert doc.status_code == 200
    assert 'id="p-14" class="para highlight" data-passage="003_2cb5ba63ba071e47:14"' in doc.text
    assert '<script src="/static/page.js" defer>' in doc.text  # scrolls the highlight into view
    assert "scrollIntoView" in httpx.get(f"{live_server}/static/page.js").text
    assert "Viết bình luận mới" not in doc.text
    bad = httpx.get(f"{live_server}/", params={"q": "x" * 1200})
    assert bad.status_code == 422 and "1000" in bad.text
    assert httpx.get(f"{live_server}/documents/khong-co").status_code == 404


def test_openapi_docs(live_server):
    docs = httpx.get(f"{live_server}/docs")
    assert docs.status_code == 200
    for asset in ("/swagger-ui/swagger-ui-bundle.js", "/swagger-ui/swagger-ui.css", "/static/api-docs.js"):
        assert asset in docs.text and httpx.get(f"{live_server}{asset}").status_code == 200  # no CDN: offline
    spec = httpx.get(f"{live_server}/openapi.json").json()
    assert "/api/search" in spec["paths"] and "/api/documents/{doc_id}" in spec["paths"]


@pytest.mark.parametrize("path", ["/", "/api/search?q=thu", "/api/search?q=", "/documents/khong-co", "/references/"])
def test_security_headers_and_no_host_in_answers(live_server, path):
    r = httpx.get(f"{live_server}{path}", headers={"Host": "evil.example"}, follow_redirects=False)
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "evil" not in r.text and "evil" not in r.headers.get("location", "")
