"""Document references (tracuu.core.references) on the real seed corpus and small hand-written text."""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from tracuu.core.references import find_query_references, find_references, parse_date
from tracuu.core.registry import Registry

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def seed_passages() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted(CORPUS.glob("*.txt")):
        doc = path.stem
        for i, text in enumerate(path.read_text(encoding="utf-8").split("\n\n")):
            out.append((f"{doc}:{i}", doc, text))
    return out


@lru_cache(maxsize=1)
def registry() -> Registry:
    return Registry(seed_passages())


def resolve_one(query: str):
    refs = find_query_references(query)
    assert len(refs) == 1, (query, refs)
    return registry().resolve(refs[0])


# ------------------------------------------------------------------ the registry of the seeds

SEED_KEYS = {
    "chi-thi-5-ct-tw", "chi-thi-29", "chi-thi-39-ct-tw", "cong-van-11544-cv-btctw",
    "huong-dan-1-hd-btctw", "huong-dan-19-hd-btctw", "ke-hoach-139", "ket-luan-72-kl-tw",
    "luat-bao-ve-bi-mat-nha-nuoc", "nghi-quyet-trung-uong-4-khoa-xii", "nghi-quyet-35",
    "quy-che-5", "quy-dinh-58-qd-tw", "quy-dinh-126-qd-tw", "quy-dinh-293-qd-tw",
    "quy-dinh-294-qd-tw", "quyet-dinh-272", "quyet-dinh-1302-qd-tu",
}


def test_seed_registry_has_exactly_the_cited_documents():
    # Nothing missed, and no false positives ("kỷ luật 693 đảng viên", "Đoàn kiểm tra số 7",
    # "Cục An ninh mạng", "Điều lệ Đảng", "Nghị quyết Đại hội …" are not documents here).
    assert {e.key for e in registry().entries()} == SEED_KEYS


def test_quy_dinh_58():
    e = registry().get("quy-dinh-58-qd-tw")
    assert (e.type, e.number, e.symbol) == ("Quy định", "58", "QĐ/TW")
    assert e.date == "2022-02-08"
    assert e.issuer == "Bộ Chính trị"
    assert e.title == "Một số vấn đề về bảo vệ chính trị nội bộ Đảng"
    assert len(e.docs) == 2 and e.notes == []


def test_quy_dinh_126_merges_title_mention_and_full_mentions():
    e = registry().get("quy-dinh-126-qd-tw")
    assert e.date == "2018-02-28" and e.issuer == "Bộ Chính trị"
    # the seed's own title "… thực hiện quy định 126" is a bare mention of the same document
    assert e.mentions == 5 and any(p.endswith(":0") for p in e.passages)


def test_chi_thi_39_merges_bare_mentions_across_documents():
    e = registry().get("chi-thi-39-ct-tw")
    assert e.date == "2014-08-18" and e.issuer == "Bộ Chính trị"
    assert len(e.docs) >= 3
    assert e.title == "Về tăng cường công tác bảo vệ chính trị nội bộ trong tình hình hiện nay"
    assert e.passages == sorted(set(e.passages), key=e.passages.index)  # unique
    assert registry().get("chi-thi-39") is None  # not a second entry for the bare spelling


@pytest.mark.parametrize("key, date, issuer", [
    ("quy-dinh-293-qd-tw", "2010-03-23", "Ban Bí thư"),  # list: date/issuer after the 294
    ("quy-dinh-294-qd-tw", "2010-03-23", "Ban Bí thư"),
    ("quyet-dinh-1302-qd-tu", "2019-02-27", "Ban Thường vụ Tỉnh ủy"),
    ("huong-dan-19-hd-btctw", "2019-09-12", "Ban Tổ chức Trung ương"),
    ("huong-dan-1-hd-btctw", "2022-08-05", "Ban Tổ chức Trung ương"),
    ("ket-luan-72-kl-tw", "2020-05-19", "Bộ Chính trị"),
    ("cong-van-11544-cv-btctw", "2020-06-02", "Ban Tổ chức Trung ương"),
    ("chi-thi-5-ct-tw", "2016-05-15", "Bộ Chính trị"),
    ("chi-thi-29", "2017-05-15", "Ban Thường vụ Tỉnh ủy"),  # "… Tỉnh ủy ban hành Chỉ thị số 29"
    ("ke-hoach-139", "2014-10-30", "Ban Thường vụ Thành ủy"),
    ("quy-che-5", "2017-02-10", "Ban Thường vụ Tỉnh ủy"),
    ("quyet-dinh-272", "2015-01-21", "Bộ Chính trị"),
    ("nghi-quyet-35", None, "Bộ Chính trị"),
])
def test_seed_dates_and_issuers(key, date, issuer):
    e = registry().get(key)
    assert (e.date, e.issuer) == (date, issuer)


def test_terms_and_named_documents():
    nq35 = registry().get("nghi-quyet-35")
    assert nq35.term == "XII" and nq35.title.startswith("Tăng cường bảo vệ nền tảng tư tưởng")
    assert registry().get("quyet-dinh-272").term == "XI"
    tw4 = registry().get("nghi-quyet-trung-uong-4-khoa-xii")
    assert tw4.name == "Nghị quyết Trung ương 4 (khóa XII)" and tw4.number is None
    assert registry().get("luat-bao-ve-bi-mat-nha-nuoc").name == "Luật Bảo vệ bí mật nhà nước"
    assert registry().get("quy-che-5").title is None  # “kim chỉ nam” is not its title


def test_entries_sorted_and_json_roundtrip():
    entries = registry().entries()
    types = [e.type for e in entries]
    assert types[:2] == ["Chỉ thị", "Chỉ thị"] and types[-1] == "Quyết định"
    assert all(types.index(t) + types.count(t) - 1 == len(types) - 1 - types[::-1].index(t)
               for t in types)  # each type is one contiguous run
    assert [e.number for e in entries if e.type == "Quy định"] == ["58", "126", "293", "294"]
    again = Registry.from_json(registry().to_json())
    assert again.entries() == entries
    assert again.resolve(find_query_references("ct 39")[0]).key == "chi-thi-39-ct-tw"


# ------------------------------------------------------------------ every seed mention

SEED_MENTIONS = Counter({
    "Chỉ thị số 39-CT/TW": 1, "Quy định số 58-QĐ/TW": 3, "Hướng dẫn số 01-HD/BTCTW": 2,
    "Hướng dẫn số 19-hd btctw": 1, "quy định 126": 1, "Quy định số 293-QĐ/TW": 1,
    "Quy định số 294-QĐ/TW": 1, "Quyết định số 1302-QĐ/TU": 1, "Quy định số 126-QĐ/TW": 4,
    "Hướng dẫn số 19-HD/BTCTW": 2, "Kết luận số 72-KL/TW": 1, "Công văn số 11544-CV/BTCTW": 1,
    "Nghị quyết Trung ương 4 [khóa XII]": 1, "Chỉ thị số 05-CT/TW": 1, "Chỉ thị số 39": 5,
    "Kế hoạch số 139": 1, "Nghị quyết 35": 1, "Chỉ thị số 29": 1,
    "Luật Bảo vệ bí mật nhà nước": 1, "Quyết định số 272": 1, "Quy chế số 05": 2,
})


def test_offsets_and_mentions_in_seeds():
    seen = Counter()
    for _, _, text in seed_passages():
        for r in find_references(text):
            mention = text[r.start:r.end]
            seen[mention] += 1
            assert mention == mention.strip() and (r.number is None or r.number in mention)
    assert seen == SEED_MENTIONS


# ------------------------------------------------------------------ query spellings

@pytest.mark.parametrize("query, key", [
    ("Quy định số 58-QĐ/TW", "quy-dinh-58-qd-tw"),
    ("Quy định 58", "quy-dinh-58-qd-tw"),
    ("QĐ 58", "quy-dinh-58-qd-tw"),
    ("qd 58", "quy-dinh-58-qd-tw"),
    ("quy dinh 58 qd tw", "quy-dinh-58-qd-tw"),
    ("58-QĐ/TW", "quy-dinh-58-qd-tw"),
    ("58-qd/tw", "quy-dinh-58-qd-tw"),
    ("QUY ĐỊNH SỐ 58", "quy-dinh-58-qd-tw"),
    ("văn bản 58 QĐ TW", "quy-dinh-58-qd-tw"),
    ("chi thi 39", "chi-thi-39-ct-tw"),
    ("ct 39", "chi-thi-39-ct-tw"),
    ("chỉ thị 39 ct/tw", "chi-thi-39-ct-tw"),
    ("Chỉ thị số 39-CT/TW ngày 18/8/2014", "chi-thi-39-ct-tw"),
    ("nghi quyet 35", "nghi-quyet-35"),
    ("nq 35", "nghi-quyet-35"),
    ("huong dan 19", "huong-dan-19-hd-btctw"),
    ("hướng dẫn số 19-hd btctw", "huong-dan-19-hd-btctw"),
    ("huong dan so 1", "huong-dan-1-hd-btctw"),
    ("huong dan 01-hd/btctw", "huong-dan-1-hd-btctw"),
    ("ket luan 72", "ket-luan-72-kl-tw"),
    ("kl 72", "ket-luan-72-kl-tw"),
    ("cong van 11544", "cong-van-11544-cv-btctw"),
    ("quyet dinh 1302", "quyet-dinh-1302-qd-tu"),
    ("quy dinh 126", "quy-dinh-126-qd-tw"),
    ("126-QĐ/TW", "quy-dinh-126-qd-tw"),
    ("qd 293", "quy-dinh-293-qd-tw"),
    ("ke hoach 139", "ke-hoach-139"),
    ("quy che so 05", "quy-che-5"),
    ("quy che 5", "quy-che-5"),
    ("chi thi 05-ct/tw", "chi-thi-5-ct-tw"),
    ("quyet dinh 272", "quyet-dinh-272"),
    ("qd 272", "quyet-dinh-272"),  # no Quy định 272: the shared code QĐ falls back
    ("chi thi 29", "chi-thi-29"),
    ("luat bao ve bi mat nha nuoc", "luat-bao-ve-bi-mat-nha-nuoc"),
    ("nghi quyet trung uong 4 khoa xii", "nghi-quyet-trung-uong-4-khoa-xii"),
    ("nghị quyết TW 4", "nghi-quyet-trung-uong-4-khoa-xii"),
    ("dieu 5 quy dinh 58", "quy-dinh-58-qd-tw"),
    (unicodedata.normalize("NFD", "Quy định số 58"), "quy-dinh-58-qd-tw"),
])
def test_query_spellings_resolve(query, key):
    e = resolve_one(query)
    assert e is not None and e.key == key


@pytest.mark.parametrize("query, type_, number, symbol", [
    ("luat an ninh mang", "Luật", None, None),
    ("nghi dinh 15/2020", "Nghị định", "15/2020", None),
    ("58-QĐ/TW", "Quy định", "58", "QĐ/TW"),  # the symbol implies the type
    ("thong tu 01/2021/tt-bnv", "Thông tư", "01/2021", "TT-BNV"),
    ("tt 01/2021", "Thông tư", "01/2021", None),
])
def test_query_parsing(query, type_, number, symbol):
    (r,) = find_query_references(query)
    assert (r.type, r.number, r.symbol) == (type_, number, symbol)
    assert query[r.start:r.end] == query.strip()


def test_query_keys_and_articles():
    assert [r.key for r in find_query_references("luat an ninh mang la gi")] == ["luat-an-ninh-mang"]
    assert find_query_references("nghi dinh 15/2020")[0].key == "nghi-dinh-15-2020"
    (r,) = find_query_references("quy dinh 58 dieu 5")
    assert (r.key, r.article) == ("quy-dinh-58", "5")
    assert resolve_one("nghi dinh 15/2020") is None  # not in the seeds


# ------------------------------------------------------------------ dates

@pytest.mark.parametrize("text, iso", [
    ("ngày 8-2-2022", "2022-02-08"),
    ("ngày 18-8-2014", "2014-08-18"),
    ("ngày 28/02/2018", "2018-02-28"),
    ("ngày 18/8/2014", "2014-08-18"),
    ("ngày 23 tháng 3 năm 2010", "2010-03-23"),
    ("ngày 27 tháng 02 năm 2019", "2019-02-27"),
    ("ngay 5-8-2022", "2022-08-05"),
    ("ngày 31/02/2020", None),  # not a date
])
def test_parse_date(text, iso):
    assert parse_date(text) == iso


# ------------------------------------------------------------------ hand-written text

def one(text: str):
    (r,) = find_references(text)
    return r, text[r.start:r.end]


def test_state_forms():
    r, m = one("Căn cứ Nghị định 15/2020/NĐ-CP ngày 03/02/2020 của Chính phủ quy định xử phạt.")
    assert m == "Nghị định 15/2020/NĐ-CP" and r.key == "nghi-dinh-15-2020-nd-cp"
    assert (r.number, r.symbol, r.date, r.issuer) == ("15/2020", "NĐ-CP", "2020-02-03", "Chính phủ")
    r, m = one("Theo Thông tư 01/2021/TT-BNV ngày 11/01/2021 của Bộ Nội vụ, cán bộ phải báo cáo.")
    assert (r.type, r.symbol, r.date, r.issuer) == ("Thông tư", "TT-BNV", "2021-01-11", "Bộ Nội vụ")
    r, m = one("Quyết định số 123/QĐ-TTg ngày 5/3/2021 của Thủ tướng Chính phủ")
    assert (r.type, r.number, r.symbol) == ("Quyết định", "123", "QĐ-TTg")
    r, m = one("Luật số 24/2018/QH14 của Quốc hội")
    assert (r.type, r.number, r.symbol, r.issuer) == ("Luật", "24/2018", "QH14", "Quốc hội")


def test_named_laws():
    text = ("Luật An ninh mạng năm 2018 có hiệu lực; Luật Bảo vệ bí mật nhà nước và các văn bản; "
            "Luật Cảnh sát biển Việt Nam quy định; Bộ luật Hình sự; Luật Phòng, chống tham nhũng.")
    refs = find_references(text)
    assert [text[r.start:r.end] for r in refs] == [
        "Luật An ninh mạng", "Luật Bảo vệ bí mật nhà nước", "Luật Cảnh sát biển Việt Nam",
        "Bộ luật Hình sự", "Luật Phòng, chống tham nhũng"]
    assert refs[0].key == "luat-an-ninh-mang" and refs[0].name == "Luật An ninh mạng"


def test_party_forms_and_abbreviations():
    r, m = one("theo QĐ 58 của Bộ Chính trị")
    assert (m, r.type, r.number, r.issuer) == ("QĐ 58", "Quy định", "58", "Bộ Chính trị")
    r, m = one("Kết luận số 72-KL/TW, ngày 19/5/2020 của Bộ Chính trị về tiếp tục tăng cường")
    assert (r.symbol, r.date) == ("KL/TW", "2020-05-19")
    r, m = one("Nghị quyết 35 của Bộ Chính trị (khóa XII) về “Tăng cường bảo vệ nền tảng”")
    assert (r.issuer, r.term, r.title) == ("Bộ Chính trị", "XII", "Tăng cường bảo vệ nền tảng")
    r, m = one("Bộ Chính trị ban hành Chỉ thị số 39 ngày 18/8/2014 về “Tăng cường công tác”")
    assert (m, r.issuer, r.date, r.title) == ("Chỉ thị số 39", "Bộ Chính trị", "2014-08-18",
                                              "Tăng cường công tác")
    r, m = one("Quy định số 126-QĐ/TW của Ban Bí thư (Trung ương Đảng)")
    assert r.issuer == "Ban Bí thư"
    r, m = one("Nghị quyết Trung ương 4 (khóa XII) về xây dựng Đảng")
    assert (r.name, r.term, r.key) == ("Nghị quyết Trung ương 4 (khóa XII)", "XII",
                                       "nghi-quyet-trung-uong-4-khoa-xii")


def test_lists_share_the_trailing_date_and_issuer():
    text = ("Căn cứ Quy định số 293-QĐ/TW và Quy định số 294-QĐ/TW, ngày 23 tháng 3 năm 2010 "
            "của Ban Bí thư Trung ương Đảng về chức năng")
    a, b = find_references(text)
    assert (a.date, a.issuer) == (b.date, b.issuer) == ("2010-03-23", "Ban Bí thư")
    # a member with its own date keeps it
    a, b = find_references("Quy định số 58-QĐ/TW ngày 8-2-2022 và Quy định 59 ngày 1-3-2022")
    assert (a.date, b.date) == ("2022-02-08", "2022-03-01")


def test_articles():
    text = "Thực hiện Điều 5 Quy định 58 và Điều 7."
    doc, art = find_references(text)
    assert (text[doc.start:doc.end], doc.key, doc.article) == ("Điều 5 Quy định 58", "quy-dinh-58", "5")
    assert (art.type, art.number, text[art.start:art.end]) == ("Điều", "7", "Điều 7")
    r, m = one("Điều 5 của Quy định số 58-QĐ/TW nêu rõ.")
    assert (r.key, r.article) == ("quy-dinh-58-qd-tw", "5")
    # a bare article never becomes a registry entry
    assert len(Registry([("p", "d", "Điều 5 nêu rõ trách nhiệm.")])) == 0


def test_nfd_text_offsets_point_into_the_original():
    text = unicodedata.normalize("NFD", "Căn cứ Quy định số 58-QĐ/TW, ngày 8-2-2022 của Bộ Chính trị "
                                        "“Một số vấn đề”; Luật An ninh mạng.")
    refs = find_references(text)
    assert [unicodedata.normalize("NFC", text[r.start:r.end]) for r in refs] == [
        "Quy định số 58-QĐ/TW", "Luật An ninh mạng"]
    assert refs[0].date == "2022-02-08" and unicodedata.normalize("NFC", refs[0].title) == "Một số vấn đề"


@pytest.mark.parametrize("text", [
    "Điều này rất quan trọng",
    "phải thực hiện đúng quy định của pháp luật",
    "thực hiện chỉ thị của cấp trên",
    "Kế hoạch 5 năm 2021-2025",
    "Đoàn kiểm tra số 7 làm việc",
    "thẩm định và kết luận tiêu chuẩn chính trị cho 1.014 đảng viên",
    "Luật sư Nguyễn Văn A cho biết",
    "phối hợp với Cục An ninh mạng",
    "thi hành kỷ luật 693 đảng viên",
    "vi phạm kỷ luật Đảng",
    "Điều chỉnh, sửa đổi, bổ sung quy chế",
    "Bảo vệ Cương lĩnh, Điều lệ Đảng",
    "chỉ thị 2 điều cần làm",
    "quy định 3 lần trong năm",
    "ct 39 và tt 5",  # lower-case abbreviations in prose are not abbreviations
    "Chiều 23/12, lúc 08/11/2019",
])
def test_no_false_positives(text):
    assert find_references(text) == []


# ------------------------------------------------------------------ merging rules

def test_bare_mention_is_ambiguous_between_two_symbols():
    reg = Registry([
        ("a:0", "a", "Chỉ thị số 39-CT/TW của Bộ Chính trị."),
        ("b:0", "b", "Chỉ thị số 39-CT/TU của Tỉnh ủy."),
        ("c:0", "c", "Thực hiện Chỉ thị 39."),
    ])
    assert {"chi-thi-39-ct-tw", "chi-thi-39-ct-tu", "chi-thi-39"} <= {e.key for e in reg.entries()}
    assert reg.resolve(find_query_references("chi thi 39")[0]) is None
    assert len(reg.candidates(find_query_references("chi thi 39")[0])) == 3
    assert reg.resolve(find_query_references("39-CT/TU")[0]).key == "chi-thi-39-ct-tu"


def test_conflicting_date_keeps_documents_apart_and_notes_conflicts():
    reg = Registry([
        ("a:0", "a", "Kế hoạch số 12 ngày 1/2/2020 về kiểm tra."),
        ("b:0", "b", "Kế hoạch số 12 ngày 5/6/2021 về giám sát."),
        ("c:0", "c", "Quy định số 7-QĐ/TW ngày 1/1/2020. Quy định số 7-QĐ/TW ngày 1/1/2020."),
        ("d:0", "d", "Quy định số 7-QĐ/TW ngày 2/1/2020."),
    ])
    plans = [e for e in reg.entries() if e.type == "Kế hoạch"]
    assert sorted(e.date for e in plans) == ["2020-02-01", "2021-06-05"]
    assert len({e.key for e in plans}) == 2
    (qd7,) = [e for e in reg.entries() if e.type == "Quy định"]
    assert qd7.date == "2020-01-01" and any("conflicting date" in n for n in qd7.notes)


@pytest.mark.parametrize("question,rest", [
    ("QĐ 58 ban hành ngày nào", "ban hành ngày nào"),
    ("Sau 5 năm thực hiện Chỉ thị 39, bao nhiêu đảng viên bị kỷ luật?", "Sau 5 năm thực hiện , bao nhiêu đảng viên bị kỷ luật?"),
    ("Quy định 58-QĐ/TW?", None),  # nothing but punctuation around the reference: the question's own vector
    ("58-QĐ/TW", None),
    ("Tỉnh Bình Thuận có bao nhiêu dân?", None),  # no reference
])
def test_what_orders_a_named_documents_passages(question, rest):
    """The regulation fast path orders a named document's passages by the question without the reference."""
    from server.search import rest_text
    from tracuu.core.query import Query

    query = Query.parse(question)
    assert rest_text(query, "hybrid") == rest
    assert rest_text(query, "lexical") is None  # BM25 reads the rest's words; nothing is embedded
