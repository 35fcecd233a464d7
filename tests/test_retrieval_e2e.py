"""Vietnamese-aware retrieval on the seed index: accents, tone styles, NFD, references, answers."""

import unicodedata

import httpx
import pytest

from tests.conftest import CORPUS



def ids(result):
    return [h.passage.id for h in result.hits]


@pytest.mark.parametrize(
    "accentless,answer",
    [
        ("tinh binh thuan co bao nhieu dan", "1,3 triệu dân"),
        ("ke hoach so 139 cua thanh uy ha noi", "Kế hoạch số 139"),
        ("cuc truong cuc bao ve chinh tri noi bo la ai", "Nguyễn Kim Minh"),
        ("bao nhieu tai lieu toi mat bi lo lot", "4 tài liệu tối mật"),
    ],
)
def test_accentless_queries_find_the_passage(searcher, accentless, answer):
    assert any(answer in h.passage.text for h in searcher.search(accentless, k=3).hits)


@pytest.mark.parametrize(
    "accentless,restored,answer",
    [
        ("tinh binh thuan co bao nhieu dan", "tỉnh bình thuận có bao nhiêu", "1,3 triệu dân"),
        ("ai la bi thu thanh uy ha noi", "ai là bí thư thành ủy hà nội", "Đinh Tiến Dũng"),
    ],
)
def test_dense_mode_reads_the_restored_question(searcher, accentless, restored, answer):
    """The dense model alone finds the answer once the diacritics are back; BM25 keeps the typed text."""
    result = searcher.search(accentless, k=3, mode="dense")
    assert result.restored_query.startswith(restored)
    assert any(answer in h.passage.text for h in result.hits)
    without = searcher.with_ranker(searcher.ranker)
    without.restore = False
    assert without.search(accentless, k=3, mode="dense").restored_query is None


def test_lexical_mode_matches_accentless_queries(searcher):
    result = searcher.search("quy che so 05 doi ngoai", k=3, mode="lexical")
    assert result.hits and "Quy chế số 05" in result.hits[0].passage.text


def test_old_and_new_tone_marks_give_the_same_results(searcher):
    new = searcher.search("Ban Thường vụ Tỉnh ủy Bình Thuận chuẩn bị hội nghị thế nào?", k=5)
    old = searcher.search("Ban Thường vụ Tỉnh uỷ Bình Thuận chuẩn bị hội nghị thế nào?", k=5)
    assert ids(new) == ids(old)
    hoa_new = searcher.search("âm mưu diễn biến hòa bình", k=5, mode="lexical")
    hoa_old = searcher.search("âm mưu diễn biến hoà bình", k=5, mode="lexical")
    assert ids(hoa_new) == ids(hoa_old) and hoa_new.hits


def test_nfd_input_behaves_like_nfc(searcher):
    question = "Năm 2018 có bao nhiêu tài liệu bị lộ, lọt?"
    nfd = unicodedata.normalize("NFD", question)
    assert nfd != question
    a, b = searcher.search(question, k=5), searcher.search(nfd, k=5)
    assert ids(a) == ids(b)
    assert [round(h.score, 5) for h in a.hits] == [round(h.score, 5) for h in b.hits]


def test_exact_diacritics_rank_above_folded_matches(searcher):
    """'bí mật' (secret) must beat passages that only match its folded form 'bi mat'."""
    hits = searcher.search("bí mật", k=3, mode="lexical").hits
    assert all("bí mật" in h.passage.text for h in hits)


def test_no_usable_lexical_tokens_is_said(searcher):
    result = searcher.search("xyzzyq qwertzu", k=3, mode="hybrid")
    assert result.notice and "ngữ nghĩa" in result.notice
    assert result.hits  # still the dense results
    assert searcher.search("xyzzyq", k=3, mode="lexical").hits == []


def test_an_english_question_is_read_by_the_dense_side_alone(searcher):
    question = "How many ethnic groups live in the province of Binh Thuan?"
    hybrid, dense = searcher.search(question, k=5), searcher.search(question, k=5, mode="dense")
    assert hybrid.restored_query is None  # "the" stays "the", not "thế"
    assert hybrid.notice and "tiếng Anh" in hybrid.notice
    assert ids(hybrid) == ids(dense)
    assert "35 dân tộc" in hybrid.hits[0].passage.text


@pytest.mark.parametrize(
    "query",
    ["Quy định 58-QĐ/TW ban hành ngày nào?", "quy dinh 58 qd tw ban hanh ngay nao", "QĐ 58 ban hành ngày nào", "58-QĐ/TW"],
)
def test_fast_path_puts_passages_citing_the_named_document_first(searcher, query):
    result = searcher.search(query, k=5)
    assert [e.key for e in result.references] == ["quy-dinh-58-qd-tw"]
    entry = result.references[0]
    assert entry.date == "2022-02-08"
    citing = set(entry.passages)
    n = len(citing)
    assert {h.passage.id for h in result.hits[:n]} == citing
    top = result.hits[0].passage.text.replace(",", "")
    assert "58-QĐ/TW ngày 8-2-2022" in top


def test_fast_path_orders_citing_passages_by_the_rest_of_the_query(searcher):
    """Chỉ thị 39 is cited in several articles; the rest of the query picks among them."""
    result = searcher.search("Chỉ thị 39 Kế hoạch số 139 Hà Nội", k=5)
    assert "chi-thi-39-ct-tw" in [e.key for e in result.references]
    assert "Kế hoạch số 139" in result.hits[0].passage.text


@pytest.mark.parametrize("question,answer", [
    ("Sau 5 năm thực hiện Chỉ thị 39, bao nhiêu đảng viên bị kỷ luật?", "kỷ luật 693 đảng viên"),
    ("Sau 5 năm thực hiện Chỉ thị 39, cấp ủy đã giám sát bao nhiêu đảng viên?", "giám sát 3.975 đảng viên"),
])
def test_fast_path_counts_every_passage_of_an_article_about_the_named_document(searcher, question, answer):
    """The article on Chỉ thị 39 names it in its opening paragraph; the paragraph that answers does not.
    Its passages are ordered by the rest of the question, whose vector does not hold "Chỉ thị 39"."""
    result = searcher.search(question, k=5)
    assert answer in result.hits[0].passage.text


def test_answers_point_at_their_own_text(searcher):
    for question in ["Tỉnh Bình Thuận có bao nhiêu dân?", "Quy chế số 05 là về việc gì?", "Ai là Giám đốc Công an tỉnh?"]:
        result = searcher.search(question, k=5)
        for hit in result.hits:
            a = hit.answer
            file_text = (CORPUS / hit.passage.source).read_bytes().decode("utf-8")
            assert file_text[a.start:a.end] == a.text
            assert hit.passage.start <= a.start < a.end <= hit.passage.end
    top = searcher.search("Tỉnh Bình Thuận có bao nhiêu dân?", k=3).hits[0].answer.text
    assert "1,3 triệu dân" in top and len(top) < 300


@pytest.mark.parametrize("question", ["Giá vàng hôm nay bao nhiêu?", "Cách nấu phở bò", "Quy định 205-QĐ/TW ban hành ngày nào?"])
def test_out_of_corpus_questions_are_not_answerable(searcher, question):
    result = searcher.search(question, k=5)
    assert result.answerable is False and result.confidence < 0.5
    assert result.hits  # the nearest passages are still listed


@pytest.mark.parametrize("question", ["Tỉnh Bình Thuận có bao nhiêu dân?", "Quy chế số 05 là về việc gì?"])
def test_corpus_questions_are_answerable(searcher, question):
    result = searcher.search(question, k=5)
    assert result.answerable is True and result.confidence >= 0.5


def test_references_api_and_page(live_server):
    listing = httpx.get(f"{live_server}/api/references").json()
    by_key = {r["key"]: r for r in listing}
    assert by_key["quy-dinh-58-qd-tw"]["date"] == "2022-02-08"
    assert by_key["quy-dinh-58-qd-tw"]["issuer"] == "Bộ Chính trị"
    assert by_key["quy-dinh-58-qd-tw"]["title"] == "Một số vấn đề về bảo vệ chính trị nội bộ Đảng"
    assert by_key["quy-dinh-126-qd-tw"]["date"] == "2018-02-28"
    assert by_key["chi-thi-39-ct-tw"]["date"] == "2014-08-18"
    detail = httpx.get(f"{live_server}/api/references/chi-thi-39-ct-tw").json()
    assert len({p["citation"]["doc_id"] for p in detail["passages"]}) >= 3
    assert all("39" in p["text"] for p in detail["passages"])
    assert httpx.get(f"{live_server}/api/references/khong-co").status_code == 404
    page = httpx.get(f"{live_server}/references")
    assert page.status_code == 200 and "08/02/2022" in page.text and "Bộ Chính trị" in page.text


def test_search_page_shows_answer_card_and_date(live_server):
    page = httpx.get(f"{live_server}/", params={"q": "Quy định 58-QĐ/TW ban hành ngày nào?"}).text
    assert "08/02/2022" in page and "<mark>" in page
    none = httpx.get(f"{live_server}/", params={"q": "Cách nấu phở bò"}).text
    assert "Không tìm thấy câu trả lời phù hợp" in none and 'class="result"' in none


def test_api_answer_fields(live_server):
    body = httpx.get(f"{live_server}/api/search", params={"q": "Quy định 58-QĐ/TW ban hành ngày nào?"}).json()
    assert body["answerable"] is True and 0 <= body["confidence"] <= 1
    assert body["references"][0]["date"] == "2022-02-08"
    for hit in body["results"]:
        a = hit["answer"]
        c = hit["citation"]
        file_text = (CORPUS / c["source"]).read_bytes().decode("utf-8")
        assert file_text[a["start"]:a["end"]] == a["text"]
