"""Passages carry exact offsets into the file text, and long paragraphs split at sentence ends."""

from pathlib import Path

import pytest

from indexer.documents import read_corpus
from indexer.passages import MAX_CHARS, sentence_spans

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture(scope="module")
def documents():
    return read_corpus(CORPUS)[0]


def test_every_passage_slices_its_file_exactly(documents):
    checked = 0
    for doc in documents:
        file_text = (CORPUS / doc.source).read_bytes().decode("utf-8")
        assert doc.text == file_text
        for p in doc.passages:
            assert file_text[p.start:p.end] == p.text
            assert p.text == p.text.strip() and p.text
            checked += 1
    assert checked >= 50


def test_passage_ids_are_unique_and_paragraphs_ordered(documents):
    ids = [p.id for d in documents for p in d.passages]
    assert len(ids) == len(set(ids))
    for doc in documents:
        starts = [p.start for p in doc.passages]
        assert starts == sorted(starts)
        assert [p.paragraph for p in doc.passages] == sorted(p.paragraph for p in doc.passages)


def test_long_paragraphs_are_split_at_sentence_ends(documents):
    split = [p for d in documents for p in d.passages if p.part > 1 or
             any(q.paragraph == p.paragraph and q.part > 1 for q in d.passages)]
    assert split, "the seeds have 3,000-character paragraphs that must be split"
    for doc in documents:
        for p in doc.passages:
            sentences = sentence_spans(p.text)
            # Either within the size limit, or a single sentence that cannot be cut.
            assert len(p.text) <= MAX_CHARS or len(sentences) == 1
            # Ends at a sentence end (or is a heading or a byline, which have none).
            assert p.kind in ("heading", "byline") or p.text[-1] in ".!?…”\")"


def test_sentence_spans():
    text = "Đồng chí A phát biểu. Hội nghị diễn ra tại TP. Hồ Chí Minh! Có 8.000 người? “Trích dẫn” tiếp."
    pieces = [text[s:e] for s, e in sentence_spans(text)]
    assert pieces == ["Đồng chí A phát biểu.", "Hội nghị diễn ra tại TP. Hồ Chí Minh!", "Có 8.000 người?", "“Trích dẫn” tiếp."]


def test_answer_spans_cut_long_sentences_at_semicolons(documents):
    from indexer.passages import MAX_ANSWER_CHARS, answer_spans

    for doc in documents:
        for p in doc.passages:
            spans = answer_spans(p.text, p.start)
            assert spans and spans[0][0] == p.start and spans[-1][1] == p.end
            for s, e in spans:
                unit = doc.text[s:e]
                assert unit == unit.strip() and unit
                assert len(unit) <= MAX_ANSWER_CHARS or ";" not in unit[:-1]  # only its own closing ";"
