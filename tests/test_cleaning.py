"""Cleaning decides what becomes a passage; the seed files carry real site chrome."""

from pathlib import Path

import pytest

from indexer.cleaning import Kind, classify, split_lines
from indexer.documents import parse_document, read_corpus

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SEEDS = sorted(CORPUS.glob("*.txt"))

CHROME = ["Phản hồi", "Các tin khác", "Mới nhất", "Xem nhiều nhất", "Phiên bản di động", "Viết bình luận mới", "Chủ Đề"]
CAPTIONS = [
    "Toàn cảnh Hội nghị.",
    "Đ/c Phan Thăng An phát biểu ý kiến chỉ đạo tại Hội nghị.",
    "Quang cảnh hội nghị",
    "Đại tướng Lương Cường phát biểu tại buổi làm việc",
    "Toàn cảnh buổi kiểm tra",
]
BYLINES = {
    "002_a6b5e44898749cf5": "Tú Linh; Ảnh: Viết Thành",
    "003_2cb5ba63ba071e47": "TRƯỜNG SƠN lược ghi",
    "001_a1a663ffb2ec27a7": "Hứa Thị Phương - Phó Trưởng Ban Tổ chức Đảng ủy Khối.",
}


@pytest.fixture(scope="module")
def documents():
    docs, skipped = read_corpus(CORPUS)
    assert skipped == []
    return {d.doc_id: d for d in docs}


def test_all_five_seeds_are_read(documents):
    assert len(SEEDS) == 5
    assert set(documents) == {p.stem for p in SEEDS}


@pytest.mark.parametrize("line", CHROME + CAPTIONS + ["08/11/2019 | 07:50 GMT+7"])
def test_no_chrome_caption_or_date_line_becomes_a_passage(documents, line):
    texts = [p.text for d in documents.values() for p in d.passages]
    assert line not in texts
    assert all(not t.startswith(line) or len(t) > len(line) + 40 for t in texts)


def test_title_is_first_line_and_its_repeats_are_not_passages(documents):
    for path in SEEDS:
        doc = documents[path.stem]
        first = path.read_text(encoding="utf-8").splitlines()[0].strip()
        assert doc.title == first
        assert all(p.text != first for p in doc.passages)


def test_row_of_other_articles_titles_is_dropped(documents):
    texts = " ".join(p.text for p in documents["002_a6b5e44898749cf5"].passages)
    assert "giáo dục STEM" not in texts
    assert "Hội thánh Tin lành" not in texts


def test_bylines_are_metadata_and_a_byline_passage_not_body(documents):
    for doc_id, byline in BYLINES.items():
        doc = documents[doc_id]
        assert doc.byline == byline
        assert all(byline not in p.text for p in doc.passages if p.kind != "byline")
        assert [p.text for p in doc.passages if p.kind == "byline"] == [byline]
    for doc_id in set(documents) - set(BYLINES):
        assert all(p.kind in ("body", "heading") for p in documents[doc_id].passages)


def test_body_paragraphs_survive():
    text = "Tiêu đề bài\n\nĐoạn thứ nhất có nội dung. Và câu thứ hai.\n\nĐoạn thứ hai, dài hơn một chút, cũng là nội dung thật.\n\nPhản hồi\n"
    lines = classify(split_lines(text))
    assert [l.kind for l in lines] == [Kind.TITLE, Kind.BODY, Kind.BODY, Kind.CHROME]


def test_empty_document_is_refused():
    with pytest.raises(ValueError):
        parse_document("empty.txt", " \n\n\t\n", "0")


def test_a_short_closing_sentence_is_not_a_byline():
    text = "Tiêu đề\n\nMột đoạn nội dung dài vừa phải về hội nghị hôm nay.\n\nHà Nội tiếp tục phát huy kết quả.\n\nNguyễn Văn A\n"
    kinds = [l.kind for l in classify(split_lines(text))]
    assert kinds == [Kind.TITLE, Kind.BODY, Kind.BODY, Kind.BYLINE]
