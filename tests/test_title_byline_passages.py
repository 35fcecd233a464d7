"""Titles and bylines are searchable (issue 13, item 3): a document with no body is indexed with its
title line as a "title" passage, and a byline line is also a "byline" passage, both with exact offsets,
while body passages keep the ids, offsets and numbers they had before (tests/data/seed_passages_head.json
holds the seed corpus's passages as read before the change)."""

import json
from pathlib import Path

import pytest

from indexer.documents import parse_document, read_corpus
from indexer.passages import MAX_CHARS, Passage
from indexer.records import document_from_record

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
BEFORE = Path(__file__).resolve().parent / "data" / "seed_passages_head.json"
PHUONG = "Hứa Thị Phương - Phó Trưởng Ban Tổ chức Đảng ủy Khối."


@pytest.fixture(scope="module")
def seeds():
    documents, skipped = read_corpus(CORPUS)
    assert skipped == []
    return {d.doc_id: d for d in documents}


def _read_one(folder: Path, name: str, text: str):
    (folder / name).write_text(text, encoding="utf-8")
    documents, skipped = read_corpus(folder)
    assert skipped == []
    [document] = documents
    return document


def test_a_one_line_text_file_is_one_title_passage(tmp_path):
    text = "  Hội nghị Trung ương 8 khóa XIII bế mạc  \n"
    doc = _read_one(tmp_path, "mot-dong.txt", text)
    [p] = doc.passages
    assert (p.id, p.kind, p.paragraph, p.part, p.section) == ("mot-dong:1", "title", 1, 1, None)
    assert text[p.start:p.end] == p.text == doc.title == "Hội nghị Trung ương 8 khóa XIII bế mạc"


def test_a_title_with_only_chrome_and_a_date_is_a_title_passage(tmp_path):
    text = "Tiêu đề bài viết\n\n08/11/2019 | 07:50 GMT+7\n\nPhản hồi\n"
    doc = _read_one(tmp_path, "chi-tieu-de.txt", text)
    assert [(p.id, p.kind, text[p.start:p.end]) for p in doc.passages] == [
        ("chi-tieu-de:1", "title", "Tiêu đề bài viết")]
    assert doc.dropped == {"date": 1, "chrome": 1}


def test_a_title_and_a_byline_are_paragraphs_1_and_2(tmp_path):
    text = "Tiêu đề bài viết\n\nNguyễn Văn A\n"
    doc = _read_one(tmp_path, "tieu-de-tac-gia.txt", text)
    assert [(p.id, p.paragraph, p.kind, text[p.start:p.end]) for p in doc.passages] == [
        ("tieu-de-tac-gia:1", 1, "title", "Tiêu đề bài viết"),
        ("tieu-de-tac-gia:2", 2, "byline", "Nguyễn Văn A"),
    ]
    assert doc.byline == "Nguyễn Văn A"


def test_a_long_one_line_file_is_cut_at_sentence_ends_like_a_paragraph(tmp_path):
    sentence = "Hội nghị đã thảo luận và thống nhất nhiều nội dung quan trọng về công tác cán bộ. "
    text = sentence * 25
    doc = _read_one(tmp_path, "dai.txt", text)
    assert len(doc.passages) > 1
    assert {(p.kind, p.paragraph) for p in doc.passages} == {("title", 1)}
    assert [p.part for p in doc.passages] == list(range(1, len(doc.passages) + 1))
    for p in doc.passages:
        assert text[p.start:p.end] == p.text and len(p.text) <= MAX_CHARS and p.text.endswith(".")


def test_a_document_with_body_has_no_title_passage(seeds):
    for doc in seeds.values():
        assert all(p.kind != "title" for p in doc.passages)
        assert all(p.text != doc.title for p in doc.passages)


def test_seed_001_byline_is_a_passage_with_exact_offsets(seeds):
    doc = seeds["001_a1a663ffb2ec27a7"]
    file_text = (CORPUS / doc.source).read_text(encoding="utf-8")
    [p] = [p for p in doc.passages if p.kind == "byline"]
    assert "Hứa Thị Phương" in p.text and p.text == PHUONG
    assert file_text[p.start:p.end] == p.text and p.start == file_text.index(PHUONG)
    body = [q for q in doc.passages if q.kind != "byline"]
    assert p.paragraph == body[-1].paragraph + 1 and p.id == f"{doc.doc_id}:{p.paragraph}"
    assert doc.passages[-1] == p  # after the body: body rows keep their order
    assert doc.byline == PHUONG  # still document metadata
    assert "byline" not in doc.dropped


def test_seed_body_passages_are_unchanged(seeds):
    before = json.loads(BEFORE.read_text(encoding="utf-8"))
    now = [[p.id, p.start, p.end, p.kind, p.paragraph] for d in seeds.values() for p in d.passages
           if p.kind in ("body", "heading")]
    assert now == before
    added = [p for d in seeds.values() for p in d.passages if p.kind not in ("body", "heading")]
    assert [(p.doc_id, p.kind) for p in added] == [
        ("001_a1a663ffb2ec27a7", "byline"), ("002_a6b5e44898749cf5", "byline"), ("003_2cb5ba63ba071e47", "byline")]


def test_a_photo_credit_in_the_middle_is_numbered_after_the_last_paragraph():
    text = ("Tiêu đề\n\nĐoạn thứ nhất có nội dung thật.\n\nẢnh: Viết Thành\n\n"
            "Đoạn thứ hai cũng có nội dung thật.\n")
    doc = parse_document("giua.txt", text, "0")
    assert [(p.paragraph, p.kind, text[p.start:p.end]) for p in doc.passages] == [
        (1, "body", "Đoạn thứ nhất có nội dung thật."),
        (2, "body", "Đoạn thứ hai cũng có nội dung thật."),
        (3, "byline", "Ảnh: Viết Thành"),
    ]


def test_benchmark_records_are_unaffected():
    text = "Hứa Thị Phương\nDòng một của bản ghi.\n\nTú Linh; Ảnh: Viết Thành"
    doc = document_from_record("r1", "  Tiêu đề bản ghi ", text)
    assert doc.title == "Tiêu đề bản ghi" and doc.byline is None
    assert doc.passages == [Passage(id="r1:1", doc_id="r1", paragraph=1, part=1, start=0, end=len(text),
                                    text=text, kind="body", section=None)]
    one_line = document_from_record("r2", "Tiêu đề", "Một dòng.")
    assert [(p.id, p.kind, p.text) for p in one_line.passages] == [("r2:1", "body", "Một dòng.")]
    with pytest.raises(ValueError):
        document_from_record("r3", "Chỉ có tiêu đề", "  ")
