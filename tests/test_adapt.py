"""eval/adapt.py's training data (the pure parts; the fine-tuning itself is measured, not tested)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from eval.adapt import Pair, batches, swapped, training_pairs
from tests.conftest import CORPUS
from tests.fake_encoder import FakeEncoder

BODY = "Sinh viên phải đạt chuẩn đầu ra tiếng Anh trước khi tốt nghiệp. Học phí được đóng theo từng học kỳ tại phòng tài chính."


@dataclass
class FakePassage:
    row: int
    text: str
    doc_id: str
    kind: str = "body"
    section: str | None = "Chương 2 Đào tạo"
    title: str = "Quy chế đào tạo đại học"
    start: int = 0


class FakeReader:
    def __init__(self):
        self.items = [FakePassage(0, BODY, "d1"), FakePassage(1, "Nguyễn Văn A", "d1", kind="byline"),
                      FakePassage(2, "Quy chế đào tạo đại học năm 2024 áp dụng cho mọi sinh viên chính quy", "d2",
                                  section=None)]
        self.size = len(self.items)
        cut = BODY.index(" Học phí")
        self.spans = {0: [(0, 0, cut), (1, cut + 1, len(BODY))], 1: [], 2: [(2, 0, len(self.items[2].text))]}

    def passages(self, rows):
        return [self.items[r] for r in rows]

    def unit_spans(self, rows):
        return {r: self.spans[r] for r in rows}


def test_pairs_come_from_the_corpus_text():
    pairs = {(p.anchor, p.positive) for p in training_pairs(FakeReader())}
    first, second = BODY.split(" Học phí")
    second = "Học phí" + second
    assert (first, second) in pairs and (second, first) in pairs  # a sentence against the rest of it
    assert ("Chương 2 Đào tạo", BODY) in pairs and ("Quy chế đào tạo đại học", BODY) in pairs
    assert not any("Nguyễn Văn A" in a or "Nguyễn Văn A" in b for a, b in pairs)  # bylines teach nothing
    # a passage that is one sentence has no "rest"; a title its passage starts with says nothing new
    assert not any(b.startswith("Quy chế đào tạo đại học năm") for _, b in pairs)


def test_batches_never_hold_one_document_twice():
    pairs = [Pair(f"a{i}", f"p{i}", f"doc{i % 5}") for i in range(40)]
    out = batches(pairs, 4, 30, seed=1)
    assert len(out) == 30 and all(len(b) == 4 for b in out)
    assert all(len({p.group for p in b}) == len(b) for b in out)
    with pytest.raises(ValueError):
        batches([Pair("a", "p", "d"), Pair("b", "q", "d")], 4, 1, seed=0)


def test_swapped_index_searches_the_given_vectors_and_keeps_the_rest(tmp_path):
    """The adapted model is measured on the base index with only its dense side replaced."""
    from indexer.build import build_index
    from indexer.embedding_cache import EmbeddingCache
    from server.live_index import LiveIndex
    from server.search import Searcher

    encoder = FakeEncoder()
    build_index(CORPUS, tmp_path / "index", encoder, EmbeddingCache(tmp_path / "cache.sqlite"))
    base = LiveIndex(tmp_path / "index", encoder.model_id)
    size = base.reader.size
    vectors = base.reader.dense.vectors(list(range(size)))
    question = "Bình Thuận có bao nhiêu tổ chức cơ sở đảng?"

    def rows(live, mode):
        return [h.passage.row for h in Searcher(live, encoder).search(question, 10, mode, answers=False).hits]

    same = swapped(tmp_path / "index", encoder.model_id, vectors)
    assert rows(same, "dense") == rows(base, "dense")
    moved = swapped(tmp_path / "index", encoder.model_id, np.roll(vectors, 1, axis=0))  # row r gets r-1's vector
    assert rows(moved, "dense") == [(r + 1) % size for r in rows(base, "dense")]
    assert rows(moved, "lexical") == rows(base, "lexical")
    assert base.reader.dense.size == size and rows(base, "dense") == rows(same, "dense")  # base untouched


def test_batches_of_a_lopsided_corpus_still_hold_negatives():
    """One long document and a short one (the seed articles are five): every batch still holds both."""
    pairs = [Pair(f"a{i}", f"p{i}", "long") for i in range(100)] + [Pair("b", "q", "short")]
    assert all(len({p.group for p in b}) == 2 for b in batches(pairs, 16, 50, seed=0))


def test_supervised_pairs_and_folds_keep_a_paragraph_on_one_side():
    from eval.encoder_uit import fold_of, make_pairs, paragraph_texts

    texts = paragraph_texts(FakeReader())  # body passages only, joined per document
    assert texts == {"d1": BODY, "d2": FakeReader().items[2].text}
    questions = [("q1", "Học phí đóng khi nào?", "d1"), ("q2", "Áp dụng cho ai?", "d2"), ("q3", "?", "gone")]
    pairs = make_pairs(questions, texts, {"q1": "hard"})
    assert [(p.anchor, p.positive, p.group, p.negative) for p in pairs] == [
        ("Học phí đóng khi nào?", BODY, "d1", "hard"), ("Áp dụng cho ai?", texts["d2"], "d2", None)]
    assert all(p.negative is None for p in make_pairs(questions, texts, None))
    ids = [f"doc{i}" for i in range(200)]
    assert {fold_of(i) for i in ids} == {0, 1} and [fold_of(i) for i in ids] == [fold_of(i) for i in ids]
    assert 60 < sum(fold_of(i) for i in ids) < 140  # roughly half each
