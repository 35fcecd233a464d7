"""The API and pages in process (FastAPI's TestClient) over the seed corpus, indexed with a fake encoder:
fast, and the same routes, validation and citations as the real server (tests/test_server_e2e.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import CORPUS
from tests.fake_encoder import FakeEncoder


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from indexer.build import build_index
    from indexer.embedding_cache import EmbeddingCache
    from server.app import create_app
    from server.search import Searcher, load_ranker

    home = tmp_path_factory.mktemp("api")
    encoder = FakeEncoder()
    build_index(CORPUS, home / "index", encoder, EmbeddingCache(home / "cache.sqlite"))
    app = create_app(Searcher(home / "index", encoder, load_ranker("learned")), watch=False)
    with TestClient(app) as client:
        yield client


def test_search_cites_exact_characters(client):
    r = client.get("/api/search", params={"q": "Tỉnh Bình Thuận có bao nhiêu dân?", "k": 3})
    assert r.status_code == 200
    body = r.json()
    assert [h["rank"] for h in body["results"]] == [1, 2, 3]
    assert any("1,3 triệu dân" in h["text"] for h in body["results"])
    for hit in body["results"]:
        c = hit["citation"]
        text = (CORPUS / c["source"]).read_text(encoding="utf-8")
        assert text[c["start"]:c["end"]] == hit["text"]
        answer = hit["answer"]
        assert text[answer["start"]:answer["end"]] == answer["text"]
        assert c["start"] <= answer["start"] < answer["end"] <= c["end"]


def test_regulation_named_in_the_question_comes_first(client):
    body = client.get("/api/search", params={"q": "quy dinh 58 qd tw ban hanh ngay nao", "k": 3}).json()
    assert [e["key"] for e in body["references"]] and body["references"][0]["number"] == "58"
    assert any("58-QĐ/TW" in h["text"] for h in body["results"][:1])


@pytest.mark.parametrize("params, words", [
    ({"q": ""}, "trống"),
    ({"q": "   "}, "trống"),
    ({"q": "\u200b\ufeff"}, "trống"),  # only invisible characters
    ({"q": "a" * 1001}, "1000"),
    ({"q": "thu", "k": 0}, "k"),
    ({"q": "thu", "k": 51}, "k"),
    ({"q": "thu", "mode": "fuzzy"}, "fuzzy"),
    ({"q": "thu", "k": "abc"}, "k"),
])
def test_bad_requests_get_422_in_vietnamese(client, params, words):
    r = client.get("/api/search", params=params)
    assert r.status_code == 422
    assert words in r.json()["detail"]


@pytest.mark.parametrize("k", ["²", "9" * 5000, "abc", "-1"])
def test_the_page_refuses_odd_k_without_a_500(client, k):
    """The page says what it received (never a value nobody sent), in Vietnamese, with a 422."""
    r = client.get("/", params={"q": "thu", "k": k})
    assert r.status_code == 422
    error = r.text.split('role="alert">')[1].split("</p>")[0]
    assert error.startswith("Số kết quả k") and k[:20] in error
    assert ("-1" in error) == (k == "-1")


def test_pages_render(client):
    home = client.get("/")
    assert home.status_code == 200 and "Tra cứu" in home.text
    found = client.get("/", params={"q": "bí mật nhà nước"})
    assert found.status_code == 200 and 'class="result"' in found.text
    assert client.get("/references").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_documents_and_references(client):
    first = client.get("/api/search", params={"q": "Chỉ thị 39", "k": 1}).json()["results"][0]["citation"]
    doc = client.get(f"/api/documents/{first['doc_id']}").json()
    assert doc["text"][first["start"]:first["end"]] in {p["text"] for p in doc["passages"]}
    assert client.get("/api/documents/khong-co").status_code == 404
    entries = client.get("/api/references").json()
    detail = client.get(f"/api/references/{entries[0]['key']}").json()
    assert len(detail["passages"]) == entries[0]["citing_passages"] > 0
    assert client.get("/api/references/khong-co").status_code == 404


def test_health_names_the_index(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["passages"] > 50 and body["model"] == FakeEncoder.model_id
