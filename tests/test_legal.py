"""Legal documents are cut along Chương / Mục / Điều / khoản, and each passage knows its place."""

import json
import re
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import SETTINGS

from indexer.cleaning import split_lines
from indexer.legal import Place, is_legal, split_legal
from tracuu.core.query import find_article
from indexer.passages import MAX_CHARS, sentence_spans

REPO = Path(__file__).resolve().parents[1]
ALQAC = SETTINGS.benchmarks / "alqac-legal" / "corpus.jsonl"

# A made-up Party regulation: preamble, three chapters, two sections, eight articles, a closing block.
REGULATION = """BAN CHẤP HÀNH TRUNG ƯƠNG
ĐẢNG CỘNG SẢN VIỆT NAM

QUY ĐỊNH
về công tác bảo vệ chính trị nội bộ ở chi bộ

- Căn cứ Điều lệ Đảng;
- Căn cứ Quy chế làm việc của Ban Chấp hành Trung ương, Bộ Chính trị và Ban Bí thư khóa XIII;
Bộ Chính trị quy định như sau:

Chương I
NHỮNG QUY ĐỊNH CHUNG

Điều 1. Phạm vi điều chỉnh và đối tượng áp dụng
1. Quy định này quy định nội dung, trách nhiệm và phương pháp bảo vệ chính trị nội bộ ở chi bộ.
2. Quy định này áp dụng đối với tổ chức đảng, đảng viên và cơ quan, đơn vị có liên quan.

Điều 2. Giải thích từ ngữ
Trong Quy định này, các từ ngữ dưới đây được hiểu như sau:
1. Bảo vệ chính trị nội bộ là việc phòng ngừa, phát hiện, ngăn chặn mọi âm mưu, hoạt động gây phương hại đến tổ chức đảng.
2. Vấn đề chính trị hiện nay là những vấn đề liên quan đến quan điểm, tư tưởng, quan hệ chính trị của cán bộ, đảng viên.

Điều 3. Nguyên tắc
Công tác bảo vệ chính trị nội bộ đặt dưới sự lãnh đạo trực tiếp, toàn diện của cấp ủy. Công tác này phải được tiến hành thường xuyên, liên tục, khách quan và đúng quy định.

Chương II
NỘI DUNG BẢO VỆ CHÍNH TRỊ NỘI BỘ

Mục 1. TIÊU CHUẨN CHÍNH TRỊ

Điều 4. Tiêu chuẩn chính trị của người được xem xét kết nạp vào Đảng
1. Có lý lịch rõ ràng, được thẩm tra, xác minh theo quy định của Ban Bí thư.
2. Bản thân chấp hành nghiêm chủ trương của Đảng, chính sách, pháp luật của Nhà nước.

Điều 5. Trách nhiệm của chi bộ
Chi bộ có trách nhiệm sau đây:
1. Lãnh đạo, chỉ đạo việc thực hiện công tác bảo vệ chính trị nội bộ trong phạm vi được giao. Chi bộ phân công đảng viên theo dõi, nắm tình hình tư tưởng của cán bộ, đảng viên và quần chúng nơi cư trú, nơi công tác; kịp thời báo cáo cấp ủy cấp trên những vấn đề phức tạp phát sinh.
2. Thực hiện việc thẩm định tiêu chuẩn chính trị đối với các trường hợp sau:
a) Quần chúng ưu tú được giới thiệu để xem xét kết nạp vào Đảng, kể cả người có quan hệ gia đình phức tạp;
b) Đảng viên được đề nghị quy hoạch, bổ nhiệm, giới thiệu ứng cử vào các chức danh lãnh đạo, quản lý;
c) Đảng viên được cử đi công tác, học tập, làm việc ở nước ngoài có thời hạn từ sáu tháng trở lên;
d) Đảng viên có vấn đề chính trị hiện nay cần được xem xét, kết luận theo thẩm quyền;
đ) Các trường hợp khác theo yêu cầu của cấp ủy cấp trên trực tiếp.
3. Báo cáo định kỳ sáu tháng, một năm về công tác bảo vệ chính trị nội bộ với cấp ủy cấp trên trực tiếp. Trường hợp đột xuất, chi bộ báo cáo ngay bằng văn bản.
4. Lưu trữ, bảo quản hồ sơ, tài liệu về bảo vệ chính trị nội bộ theo quy định của pháp luật về bảo vệ bí mật nhà nước.

Mục 2. QUẢN LÝ ĐẢNG VIÊN

Điều 6. Quản lý hồ sơ đảng viên
Hồ sơ đảng viên được quản lý chặt chẽ, bảo đảm bí mật. Việc khai thác, sử dụng hồ sơ phải được cấp có thẩm quyền đồng ý.

Chương III
ĐIỀU KHOẢN THI HÀNH

Điều 7. Trách nhiệm thi hành
1. Các tỉnh ủy, thành ủy, đảng ủy trực thuộc Trung ương có trách nhiệm phổ biến, quán triệt và tổ chức thực hiện Quy định này.
2. Ban Tổ chức Trung ương chủ trì, phối hợp với các cơ quan liên quan hướng dẫn, theo dõi, kiểm tra việc thực hiện.

Điều 8. Hiệu lực thi hành
Quy định này có hiệu lực kể từ ngày ký. Trong quá trình thực hiện, nếu có vướng mắc, các cấp ủy báo cáo Bộ Chính trị xem xét.

T/M BỘ CHÍNH TRỊ
(Đã ký)
Nguyễn Văn A
"""

LAW_SNIPPETS = [
    ("Luật Thanh niên", "Chương I\nNHỮNG QUY ĐỊNH CHUNG\n\nĐiều 1. Phạm vi điều chỉnh\nLuật này quy định về quyền, "
     "nghĩa vụ của thanh niên.\n\nĐiều 2. Thanh niên\nThanh niên là công dân Việt Nam từ đủ 16 tuổi đến 30 tuổi.\n"),
    ("", "NGHỊ ĐỊNH\nQuy định chi tiết một số điều của Luật Cư trú\n\nCăn cứ Luật Tổ chức Chính phủ;\n\n"
     "Điều 1: Phạm vi điều chỉnh\nNghị định này quy định chi tiết một số điều.\n\n"
     "Điều 2: Đối tượng áp dụng\nNghị định này áp dụng đối với công dân Việt Nam.\n"),
    ("Thông tư 01", "ĐIỀU 3. Hồ sơ\n1. Tờ khai.\n2. Giấy tờ chứng minh.\nĐIỀU 4. Thời hạn\nMười ngày.\n"
     "ĐIỀU 5. Hiệu lực\nThông tư này có hiệu lực từ ngày ký.\n"),
    ("Quy định về những điều đảng viên không được làm", "Điều 1 - Nói, viết, làm trái Cương lĩnh chính trị.\n"
     "Điều 2 - Tự ứng cử hoặc nhận đề cử khi không được tổ chức đảng đồng ý.\n"),
]

NEWS_WITH_ARTICLES = ("Hội nghị quán triệt", "Theo Điều 5 của Quy định, chi bộ phải báo cáo định kỳ.\n"
                      "Điều kiện để kết nạp đảng viên cũng được nhắc lại.\nĐiều 7 nói về hiệu lực.\n"
                      "Mục đích của hội nghị là thống nhất nhận thức.\n")


def _check(text, pairs, max_chars):
    """Exact offsets, no overlap, nothing non-blank lost, no over-long piece unless one sentence."""
    covered = [False] * len(text)
    for p, place in pairs:
        assert text[p.start:p.end] == p.text and p.text == p.text.strip() and p.text
        assert p.id == f"{p.doc_id}:{p.paragraph}" + (f".{p.part}" if p.id.count(".") else "")
        assert not any(covered[p.start:p.end]), p.id
        covered[p.start:p.end] = [True] * (p.end - p.start)
        if len(p.text) > max_chars:
            body = re.sub(r"^(?:Điều\s+)?\w{1,4}\.\s+", "", p.text)  # "1. " / "Điều 5. " is no sentence
            assert len(sentence_spans(body)) == 1, p.id
    lost = "".join(ch for ch, c in zip(text, covered) if not c and not ch.isspace())
    assert not lost
    starts = [p.start for p, _ in pairs]
    assert starts == sorted(starts) and len({p.id for p, _ in pairs}) == len(pairs)


def _split(text, max_chars=MAX_CHARS, doc_id="qd"):
    return split_legal(doc_id, text, split_lines(text), max_chars)


def _article_of(text, p):
    """The article a character position lies in, by scanning back for the nearest heading line."""
    line_end = text.find("\n", p.start)
    before = text[:line_end if line_end >= 0 else len(text)].split("\n")
    for line in reversed(before):
        if line.startswith("Điều ") and line[5].isdigit():
            return line.split(".")[0].split()[1]
        if line.startswith(("Chương", "Mục", "T/M")):
            return None
    return None


@pytest.mark.parametrize("max_chars", [MAX_CHARS, 300, 120])
def test_regulation_offsets_coverage_and_article_bounds(max_chars):
    pairs = _split(REGULATION, max_chars)
    _check(REGULATION, pairs, max_chars)
    for p, place in pairs:
        assert place.article == _article_of(REGULATION, p), p.text
        if place.article:  # the piece ends before the next article starts
            assert "\nĐiều " not in p.text and "\nChương" not in p.text and "\nMục" not in p.text


def test_short_articles_are_one_passage_that_names_itself():
    pairs = _split(REGULATION)
    by_article = {}
    for p, place in pairs:
        by_article.setdefault(place.article, []).append((p, place))
    assert sorted(k for k in by_article if k) == [str(n) for n in range(1, 9)]
    for n in "1234678":
        [(p, place)] = by_article[n]
        assert p.text.startswith(f"Điều {n}.") and place.clause is None and p.kind == "body"
    labels = {place.article: place.label() for _, place in pairs if place.article}
    assert labels["1"] == "Chương I, Điều 1"
    assert labels["4"] == "Chương II, Mục 1, Điều 4"
    assert labels["6"] == "Chương II, Mục 2, Điều 6"
    assert labels["8"] == "Chương III, Điều 8"
    place = by_article["1"][0][1]
    assert place.article_title == "Phạm vi điều chỉnh và đối tượng áp dụng" and place.section is None
    assert by_article["6"][0][0].section == "Chương II. NỘI DUNG BẢO VỆ CHÍNH TRỊ NỘI BỘ — Mục 2. QUẢN LÝ ĐẢNG VIÊN"


def test_long_article_is_split_between_clauses():
    pieces = [(p, place) for p, place in _split(REGULATION) if place.article == "5"]
    assert len(REGULATION.split("Điều 5.")[1].split("Mục 2.")[0].strip()) > MAX_CHARS
    assert len(pieces) >= 2
    assert pieces[0][0].text.startswith("Điều 5. Trách nhiệm của chi bộ")
    assert [p.part for p, _ in pieces] == list(range(1, len(pieces) + 1))
    assert len({p.paragraph for p, _ in pieces}) == 1 and pieces[0][0].id.endswith(".1")
    for p, place in pieces:
        assert place.article_title == "Trách nhiệm của chi bộ" and place.chapter == "Chương II"
        assert place.label().startswith("Chương II, Mục 1, Điều 5, khoản ")
        first, last = p.text.splitlines()[0], p.text.splitlines()[-1]  # pieces start and end on clause bounds
        assert first.startswith(("Điều 5.", f"{place.clause[0]}. "))
        assert p.end == len(REGULATION) or REGULATION[p.end] == "\n" and not last.startswith(("a)", "b)", "c)", "d)"))
    assert pieces[-1][1].label() == "Chương II, Mục 1, Điều 5, khoản 3–4"  # a piece holding two clauses
    # the points a)–đ) stay with clause 2
    holder = [place for p, place in pieces if "đ) Các trường hợp" in p.text][0]
    assert "a) Quần chúng" in [p for p, pl in pieces if pl is holder][0].text
    assert holder.clause in ("2", "1–2", "2–3", "2–4", "1–3")


def test_long_clause_is_split_at_sentences_with_its_clause():
    pairs = _split(REGULATION, max_chars=200)
    clause1 = [(p, place) for p, place in pairs if place.article == "5" and place.clause == "1"]
    assert len(clause1) >= 2  # clause 1 of Điều 5 is two sentences, 280 characters
    assert clause1[0][0].text.startswith("Điều 5.")  # heading and intro go with the first piece
    assert "1. Lãnh đạo" in clause1[0][0].text and clause1[-1][0].text.endswith("phát sinh.")
    points = [place.label() for p, place in pairs if p.text.startswith(("b) Đảng viên", "đ) Các"))]
    assert set(points) == {"Chương II, Mục 1, Điều 5, khoản 2"}
    assert any(place.label() == "Chương III, Điều 7, khoản 2" for _, place in _split(REGULATION, 150))


def test_preamble_headings_and_closing_have_no_article():
    pairs = _split(REGULATION)
    texts = {p.text: (p, place) for p, place in pairs}
    p, place = texts["- Căn cứ Điều lệ Đảng;"]
    assert place == Place(None, None, None, None, None) and place.label() == "" and p.kind == "body"
    p, place = texts["Chương I\nNHỮNG QUY ĐỊNH CHUNG"]
    assert p.kind == "heading" and place.label() == "Chương I"
    p, place = texts["Mục 1. TIÊU CHUẨN CHÍNH TRỊ"]
    assert p.kind == "heading" and place.label() == "Chương II, Mục 1"
    assert texts["Chương III\nĐIỀU KHOẢN THI HÀNH"][0].kind == "heading"  # "ĐIỀU KHOẢN" is not an article
    for line in ("T/M BỘ CHÍNH TRỊ", "(Đã ký)", "Nguyễn Văn A"):
        assert texts[line][1].article is None
    assert pairs[0][0].id == "qd:1" and pairs[0][0].text == "BAN CHẤP HÀNH TRUNG ƯƠNG"


def test_nfd_text_gets_the_same_structure():
    nfd = unicodedata.normalize("NFD", REGULATION)
    pairs = _split(nfd)
    _check(nfd, pairs, MAX_CHARS)
    # NFD takes more code points, so long articles may be cut differently; the structure is the same
    def structure(pairs):
        return sorted({(pl.chapter, pl.section, pl.article, pl.article_title) for _, pl in pairs}, key=str)
    assert structure(pairs) == structure(_split(REGULATION))


def test_is_legal():
    assert is_legal("Quy định về công tác bảo vệ chính trị nội bộ", REGULATION)
    assert is_legal("", REGULATION)
    for title, text in LAW_SNIPPETS:
        assert is_legal(title, text), title
    assert not is_legal(*NEWS_WITH_ARTICLES)
    assert not is_legal("", "Điều 5. Trách nhiệm\nĐiều 4. Quyền\n")  # not ascending, no support
    assert not is_legal("", "Điều 3. Trách nhiệm\nĐiều 4. Quyền\n")  # two articles, nothing else
    news = sorted((REPO / "corpus").glob("*.txt"))
    assert len(news) == 5
    for path in news:
        text = path.read_text(encoding="utf-8")
        assert not is_legal(text.splitlines()[0], text), path.name


@pytest.mark.parametrize("query, article", [
    ("Điều 5 Quy định 58 nói gì?", "5"),
    ("dieu 12 luat an ninh mang", "12"),
    ("ĐIỀU 7", "7"),
    ("quy dinh 58 dieu 5", "5"),
    ("khoản 2 điều 15 luật cư trú", "15"),
    ("điều 12a bộ luật dân sự", "12a"),
    ("dieu5 quy dinh 58", "5"),
    ("điều thứ 9 của điều lệ đảng", "9"),
    ("Điều 5, khoản 2", "5"),
    ("điều kiện kết nạp đảng viên", None),
    ("quy định 58 về bảo vệ chính trị nội bộ", None),
])
def test_find_article(query, article):
    assert find_article(query) == article
    assert find_article(unicodedata.normalize("NFD", query)) == article


def _alqac(limit):
    if not ALQAC.exists():
        pytest.skip("ALQAC benchmark not present")
    with ALQAC.open(encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(limit), f)]


def test_alqac_records_keep_offsets_and_text():
    for rec in _alqac(200):
        _check(rec["text"], _split(rec["text"], doc_id=rec["_id"]), MAX_CHARS)


def test_alqac_articles_reassembled_into_laws_split_per_article():
    """Records of one law, each prefixed "Điều N. ", form a law whose passages must map back to them."""
    laws = {}
    for rec in _alqac(200):
        laws.setdefault(rec["law_id"], []).append(rec)
    for law, recs in laws.items():
        text, spans = "", []
        for rec in recs:
            start = len(text)
            text += f"Điều {rec['article_id']}. {rec['text']}\n\n"
            spans.append((start, len(text), rec["article_id"]))
        assert is_legal(law, text)
        pairs = _split(text)
        _check(text, pairs, MAX_CHARS)
        closing = ""
        for p, place in pairs:
            [article] = [a for s, e, a in spans if s <= p.start and p.end <= e]
            if place.article is None:  # only the signature block after the last article
                assert article == recs[-1]["article_id"]
                closing += p.text
            else:
                assert place.article == article
        assert len(closing) < 100, closing


def test_wrapped_lines_and_adoption_formula():
    text = ("Điều 1. Phạm vi điều chỉnh\nLuật này quy định về điều kiện, trình tự quy định tại\n"
            "Điều 169 của Luật này.\nĐiều kiện áp dụng được quy định riêng.\n\n"
            "Điều 2. Hiệu lực thi hành\nLuật này có hiệu lực từ ngày 01 tháng 7 năm 2021.\n\n"
            "Luật này đã được Quốc hội nước Cộng hòa xã hội chủ nghĩa Việt Nam khóa XIV thông qua.\n\n"
            "CHỦ TỊCH QUỐC HỘI\n(Đã ký)\n")
    pairs = _split(text)
    _check(text, pairs, MAX_CHARS)
    assert [pl.article for _, pl in pairs] == ["1", "2", None, None, None]
    assert pairs[0][0].text.endswith("được quy định riêng.")  # "Điều 169 của …", "Điều kiện …" are no headings


def test_place_label():
    assert Place(None, None, "5", None, None).label() == "Điều 5"
    assert Place(None, None, "5", "Phạm vi", "2").label() == "Điều 5, khoản 2"
    assert Place("Chương II", "Mục 1", "12a", None, "2–3").label() == "Chương II, Mục 1, Điều 12a, khoản 2–3"
    assert Place("Chương I", None, None, None, None).label() == "Chương I"
