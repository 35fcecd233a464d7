"""The search page a reader expects, in process (TestClient over the fake-encoder seed index): Vietnamese
error pages, no internals on view, marked snippets, pages of results, filters (page and API), citations
to copy, a page per regulation, the home page. The browser proves the rest (tests/test_browser_e2e.py)."""

from __future__ import annotations

import re

import pytest

from server.snippets import mark, question_terms, snippet
from tests.conftest import CORPUS
from tests.fake_encoder import fake_client

BINH_THUAN = "Tỉnh Bình Thuận có bao nhiêu dân?"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with fake_client(tmp_path_factory.mktemp("pages")) as client:
        yield client


def title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.DOTALL).group(1).strip()


def ranks(html: str) -> list[int]:
    return sorted(int(r) for r in re.findall(r'class="result" data-rank="(\d+)"', html))  # grouped by article


def without_details(html: str) -> str:
    """The page as a reader sees it before opening any "chi tiết trích dẫn"."""
    return re.sub(r'<details class="internals">.*?</details>', "", html, flags=re.DOTALL)


# ---- defects ----

@pytest.mark.parametrize("path", ["/khong-co-trang-nay", "/references/chi-thi-5-ct-tw-khong-co", "/documents/khong-co"])
def test_unknown_pages_get_a_vietnamese_html_page(client, path):
    r = client.get(path)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "Không" in r.text and '<html lang="vi">' in r.text and "Not Found" not in r.text
    assert title(r.text) != "– Tra cứu" and title(r.text).endswith("Tra cứu")


@pytest.mark.parametrize("path", ["/api/khong-co", "/api/references/khong-co", "/api/documents/khong-co"])
def test_the_api_keeps_json_errors(client, path):
    r = client.get(path)
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    assert list(r.json()) == ["detail"]


@pytest.mark.parametrize("q", ["", "   ", "\u200b"])
def test_an_empty_search_says_so(client, q):
    r = client.get("/", params={"q": q})
    assert r.status_code == 422
    assert 'role="alert"' in r.text and "trống" in r.text
    assert not title(r.text).startswith("–") and title(r.text) != "– Tra cứu"


def test_home_without_a_question_is_the_intro(client):
    r = client.get("/")
    assert r.status_code == 200 and 'role="alert"' not in r.text and title(r.text) == "Tra cứu"


def test_answer_sentences_are_highlighted_only_when_answerable(client):
    for q in ("giá vàng hôm nay", "Quy định 58-QĐ/TW ban hành ngày nào?"):
        body = client.get("/api/search", params={"q": q, "k": 10}).json()
        page = client.get("/", params={"q": q}).text
        assert ('class="answer"' in page) == body["answerable"], q
    assert client.get("/api/search", params={"q": "Quy định 58-QĐ/TW ban hành ngày nào?"}).json()["answerable"]


def test_an_english_question_gets_the_nearest_sentence_without_a_verdict(client):
    """The answerable signal counts the question's words in the passage, so it cannot judge English."""
    q = "How many ethnic groups live in Binh Thuan province?"
    body = client.get("/api/search", params={"q": q, "k": 5}).json()
    assert body["language"] == "en" and "tiếng Anh" in body["notice"]
    page = client.get("/", params={"q": q}).text
    assert "Câu gần nhất" in page and "chưa đánh giá được độ tin cậy với câu hỏi tiếng Anh" in page
    assert "Không tìm thấy câu trả lời phù hợp" not in page
    assert body["results"][0]["answer"]["text"] in page
    assert client.get("/api/search", params={"q": BINH_THUAN}).json()["language"] == "vi"


def test_internals_only_in_the_collapsed_details(client):
    page = client.get("/", params={"q": BINH_THUAN}).text
    assert '<details class="internals"><summary>chi tiết trích dẫn</summary>' in page
    seen = without_details(page)
    visible = re.sub(r'data-(cite|link)="[^"]*"', "", seen)
    assert ".txt</" not in visible and "ký tự" not in visible and "điểm" not in visible.lower()
    assert not re.search(r">\s*-\d+\.\d{3}", visible)  # no model scores
    assert re.search(r'<h3 class="headline">.*?<a href="/documents/[^"]+">Kiểm tra công tác', page, re.DOTALL)
    api = client.get("/api/search", params={"q": BINH_THUAN}).json()["results"][0]
    assert {"score", "citation"} <= set(api) and {"start", "end", "source"} <= set(api["citation"])


def test_favicon(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon" and r.content[:4] == b"\0\0\1\0"


def test_form_controls_use_the_page_font_and_nothing_overflows():
    css = (CORPUS.parent / "server" / "static" / "style.css").read_text(encoding="utf-8")
    assert re.search(r"input, select, button, textarea[^{]*\{[^}]*font-family: var\(--font\)", css)
    assert "float: right" not in css  # the score no longer floats out of the card
    assert "prefers-color-scheme: dark" in css and "@media print" in css


# ---- results markup ----

def test_results_have_headings_ranks_marks_and_a_copy_button(client):
    page = client.get("/", params={"q": "tinh binh thuan co bao nhieu dan"}).text
    assert ranks(page) == list(range(1, 11))
    assert page.count('<h3 class="headline">') >= 1
    assert page.count('<h3 class="headline">') + page.count('<h4 class="headline">') == 10
    assert "<mark>Tỉnh Bình Thuận</mark>" in page or "<mark>tỉnh Bình Thuận</mark>" in page
    assert "đoạn khác trong bài này" in page and "xem đầy đủ" in page
    assert page.count(">Sao chép trích dẫn</button>") == 10


def test_marks_are_accent_insensitive_and_escaped():
    terms = question_terms("binh thuan <script>")
    assert mark("Tỉnh Bình Thuận <script>", terms) == [("Tỉnh ", False), ("Bình Thuận", True), (" <", False),
                                                        ("script", True), (">", False)]
    assert mark("mạnh dạn", question_terms("dân")) == [("mạnh dạn", False)]  # typed accented: exact syllable


def test_the_page_escapes_passage_text_and_marks(client):
    page = client.get("/", params={"q": "<b>bình thuận</b>"}).text
    assert "<b>" not in page.split("<main>")[1] and "&lt;b&gt;" in page


def test_the_snippet_is_about_300_characters_around_the_answer():
    text = "Mở đầu. " * 80 + "Câu trả lời ở đây. " + "Phần sau. " * 80
    start = text.index("Câu trả lời")
    s = snippet(text, question_terms("trả lời"), (start, start + len("Câu trả lời ở đây.")))
    body = "".join(t for part in (s.before, s.answer, s.after) for t, _ in part)
    assert 250 <= len(body) <= 320 and s.cut_start and s.cut_end
    assert "".join(t for t, _ in s.answer) == "Câu trả lời ở đây." and ("trả lời", True) in s.answer


# ---- more results ----

def test_pages_of_ten_with_a_next_link(client):
    first = client.get("/", params={"q": "bảo vệ chính trị nội bộ"}).text
    link = re.search(r'<a rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "page=2" in link and "trong 50 đoạn" in first
    second = client.get(link).text
    assert ranks(second) == list(range(11, 21)) and "Kết quả 11–20" in second and 'rel="prev"' in second
    last = client.get("/", params={"q": "bảo vệ chính trị nội bộ", "page": 5}).text
    assert ranks(last) == list(range(41, 51)) and 'rel="next"' not in last
    beyond = client.get("/", params={"q": "bảo vệ chính trị nội bộ", "page": 9}).text
    assert "Chỉ xem được 50 kết quả đầu tiên" in beyond and ranks(beyond) == list(range(41, 51))


# ---- filters ----

def test_doc_filter_in_the_api_and_on_the_page(client):
    q = {"q": "bảo vệ chính trị nội bộ", "k": 10}
    everything = client.get("/api/search", params=q).json()["results"]
    doc = everything[-1]["citation"]["doc_id"]
    only = client.get("/api/search", params={**q, "doc": doc}).json()["results"]
    assert only and {h["citation"]["doc_id"] for h in only} == {doc}
    assert [h["rank"] for h in only] == list(range(1, len(only) + 1))
    other = next(h["citation"]["doc_id"] for h in everything if h["citation"]["doc_id"] != doc)
    two = client.get("/api/search", params=[("q", q["q"]), ("k", 50), ("doc", doc), ("doc", other)])
    assert len({h["citation"]["doc_id"] for h in two.json()["results"]}) == 2
    page = client.get("/", params={"q": q["q"], "doc": doc}).text
    assert ranks(page) and set(re.findall(r'href="/documents/([^?"]+)\?passage', page)) == {doc}


def test_ref_filter_keeps_the_passages_citing_it(client):
    key = "quy-dinh-58-qd-tw"
    cited = {p["passage_id"] for p in client.get(f"/api/references/{key}").json()["passages"]}
    found = client.get("/api/search", params={"q": "bảo vệ chính trị nội bộ", "ref": key, "k": 50}).json()["results"]
    assert found and {h["passage_id"] for h in found} <= cited


def test_date_filters_are_checked_in_vietnamese(client):
    r = client.get("/api/search", params={"q": "thu", "from": "2022-13-01"})
    assert r.status_code == 422 and "YYYY-MM-DD" in r.json()["detail"]
    r = client.get("/api/search", params={"q": "thu", "from": "2023-01-01", "to": "2022-01-01"})
    assert r.status_code == 200 and r.json()["results"] == [] and "Khoảng ngày" in r.json()["notice"]
    assert "Khoảng ngày" in client.get("/", params={"q": "thu", "from": "2023-01-01", "to": "2022-01-01"}).text
    for odd in ("", "20220208", "2022-W05"):  # the schema says format: date
        assert client.get("/api/search", params={"q": "thu", "to": odd}).status_code == 422, odd
    assert client.get("/", params={"q": "thu", "to": ""}).status_code == 200  # the form's empty field
    page = client.get("/", params={"q": "thu", "to": "hôm qua"})
    assert page.status_code == 422 and "YYYY-MM-DD" in page.text
    # the seed articles carry no date: a date range keeps none of them
    assert client.get("/api/search", params={"q": "thu", "from": "2000-01-01"}).json()["results"] == []


def test_filters_are_documented_in_the_openapi_schema(client):
    params = {p["name"]: p for p in client.get("/openapi.json").json()["paths"]["/api/search"]["get"]["parameters"]}
    for name in ("doc", "ref", "from", "to"):
        assert params[name]["description"], name
    assert params["from"]["schema"]["format"] == params["to"]["schema"]["format"] == "date"
    assert params["doc"]["schema"]["type"] == "array"  # repeatable: doc=a&doc=b


# ---- citations, documents, regulations, home ----

def test_the_copy_button_carries_a_vietnamese_citation_and_a_stable_link(client):
    page = client.get("/", params={"q": BINH_THUAN}).text
    cite, link = re.search(r'data-cite="([^"]+)" data-link="([^"]+)"', page).groups()
    assert cite.startswith("“") and "đoạn" in cite and "ký tự" in cite and ".txt" in cite
    doc_id, anchor = re.match(r"/documents/([^?]+)\?passage=[^#]+#(p-\d+)", link).groups()
    assert f'id="{anchor}"' in client.get(f"/documents/{doc_id}").text
    assert "Sao chép" in client.get("/static/page.js").text and "clipboard.writeText" in client.get("/static/page.js").text


def test_a_page_per_regulation(client):
    registry = client.get("/references").text
    assert 'href="/references/quy-dinh-58-qd-tw"' in registry and 'id="refs-filter"' in registry
    page = client.get("/references/quy-dinh-58-qd-tw")
    assert page.status_code == 200
    entry = client.get("/api/references/quy-dinh-58-qd-tw").json()
    assert "Quy định số 58" in page.text and "Ngày ban hành" in page.text
    assert page.text.count('href="/documents/') == len(entry["passages"])
    search = client.get("/", params={"q": "Quy định 58-QĐ/TW ban hành ngày nào?"}).text
    assert 'href="/references/quy-dinh-58-qd-tw"' in search
    # mentions inside passages link to the regulation's page, on results and on the document page
    assert re.search(r'<p class="mentions">Nhắc đến: .*?<a href="/references/quy-dinh-58-qd-tw">', search)
    doc_id = entry["passages"][0]["citation"]["doc_id"]
    document = client.get(f"/documents/{doc_id}").text
    assert '<p class="mentions">Nhắc đến: ' in document and 'href="/references/quy-dinh-58-qd-tw"' in document


def test_the_home_page_explains_itself(client):
    page = client.get("/").text
    assert page.count('href="/?q=') == 4 and "tinh+binh+thuan" in page and "How+many" in page
    assert re.search(r"5 bài viết, \d+ đoạn, lập chỉ mục lần cuối \d\d/\d\d/\d{4}", page)
    for mode in ("Kết hợp", "Ngữ nghĩa", "Từ khóa"):
        assert f"<strong>{mode}</strong>:" in page


def test_date_and_ref_filters_on_candidate_rows():
    """The date range on the article's date (the seed articles have none, so with a stand-in reader)."""
    from types import SimpleNamespace

    from server.params import parse_filters
    from server.search import Hit

    def hit(rank, doc_id, pid):
        return Hit(rank=rank, score=0.0, passage=SimpleNamespace(doc_id=doc_id, id=pid))

    dates = {"a": "2021-05-01", "b": "2022-02-08T10:00:00", "c": None}
    reader = SimpleNamespace(
        document_info=lambda ids: {d: {"date": dates[d]} for d in ids},
        registry=SimpleNamespace(get=lambda key: SimpleNamespace(passages=["b:1"]) if key == "k" else None),
    )
    hits = [hit(1, "a", "a:1"), hit(2, "b", "b:1"), hit(3, "c", "c:1"), hit(4, "b", "b:2")]
    kept = lambda **f: [h.passage.id for h in parse_filters(**{"docs": None, "ref": None, "date_from": None,  # noqa: E731
                                                               "date_to": None, **f}).keep(reader, hits)]
    assert kept() == ["a:1", "b:1", "c:1", "b:2"]
    assert kept(date_from="2022-01-01") == ["b:1", "b:2"]
    assert kept(date_to="2022-02-08") == ["a:1", "b:1", "b:2"]  # inclusive, on the date part
    assert kept(date_from="2021-05-02", date_to="2022-02-07") == []
    assert kept(ref="k") == ["b:1"] and kept(ref="khong-co") == []
    assert kept(docs=["a", "c"]) == ["a:1", "c:1"]


def test_confidence_is_shown_as_a_percentage_never_certain(client):
    import re

    from server.deps import percent

    assert [percent(p) for p in (0.0, 0.004, 0.5, 0.946, 0.995, 1.0)] == ["1%", "1%", "50%", "95%", "99%", "99%"]
    q = "Quy định 58-QĐ/TW ban hành ngày nào?"
    body = client.get("/api/search", params={"q": q}).json()
    shown = re.search(r"độ tin cậy (\d+)%", client.get("/", params={"q": q}).text)
    assert body["answerable"] and shown and shown.group(1) == percent(body["confidence"])[:-1]
