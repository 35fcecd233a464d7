"""eval.long_questions: the pure pieces of the long-question study (sentences, RM3, Rocchio)."""

from __future__ import annotations

import numpy as np
import pytest

from eval.long_questions import pool_recall, question_pieces, rm3_weights, rocchio


def test_pieces_are_sentences_and_short_ones_join_a_neighbour():
    text = ("Thưa bác sĩ, tôi bị cao huyết áp đã 5 năm. Tôi có tiêm được vaccine AstraZeneca không? "
            "Xin cảm ơn!")
    assert question_pieces(text) == ["Thưa bác sĩ, tôi bị cao huyết áp đã 5 năm.",
                                     "Tôi có tiêm được vaccine AstraZeneca không? Xin cảm ơn!"]
    assert question_pieces("Dạ. Em bị dị ứng hải sản, có tiêm được vaccine không ạ?") == [
        "Dạ. Em bị dị ứng hải sản, có tiêm được vaccine không ạ?"]
    assert question_pieces("Nguồn gốc của Covid-19 từ đâu?") == ["Nguồn gốc của Covid-19 từ đâu?"]


def test_pieces_split_on_lowercase_sentence_starts_and_line_breaks():
    text = ("em đang cho con bú được 7 tháng tuổi? còn chồng em bị dị ứng hải sản thì sao\n"
            "và mẹ em 80 tuổi thì sao ạ")
    assert len(question_pieces(text)) == 3


def test_rm3_mixes_the_query_with_the_feedback_terms():
    feedback = [(3.0, {"tiêm": 1.0, "mũi": 3.0}), (1.0, {"tiêm": 1.0, "sốt": 1.0})]
    weights = rm3_weights(["tiêm", "vaccine"], feedback, terms=2, original=0.5)
    assert sum(weights.values()) == pytest.approx(1.0)
    assert weights["vaccine"] == pytest.approx(0.25)
    # relevance: mũi .75 * .75 = .5625, tiêm .75 * .25 + .25 * .5 = .3125, sốt .125 (not in the top 2)
    assert weights["mũi"] == pytest.approx(0.5 * 0.5625 / 0.875)
    assert weights["tiêm"] == pytest.approx(0.25 + 0.5 * 0.3125 / 0.875)
    assert "sốt" not in weights
    assert rm3_weights(["tiêm"], [], terms=5) == {"tiêm": 0.5}


def test_rocchio_moves_toward_the_feedback_and_stays_normalized():
    q = np.array([1.0, 0.0], dtype=np.float32)
    moved = rocchio(q, np.array([[0.0, 1.0], [0.0, 1.0]]), beta=1.0)
    assert np.linalg.norm(moved) == pytest.approx(1.0)
    assert moved == pytest.approx(np.array([1, 1]) / np.sqrt(2))


def test_pool_recall_is_the_share_of_gold_documents_held():
    qrels = {"q1": {"a": 1, "b": 1}, "q2": {"c": 1}, "q3": {"d": 1, "e": 0}}
    assert pool_recall(qrels, {"q1": {"a", "x"}, "q2": {"c"}}) == pytest.approx((0.5 + 1 + 0) / 3)
