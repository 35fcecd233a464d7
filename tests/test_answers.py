"""Answer sentences and the answerable signal (server/answers.py), without a model: unit vectors are given."""

from __future__ import annotations

import numpy as np
import pytest

from server.answers import STATED_CONFIDENCE, NamedQuestion, QueryTerms, best_answer
from tracuu.core.registry import Entry

DOC = ("Quy định số 58-QĐ/TW được Bộ Chính trị ban hành ngày 8-2-2022. "
       "Quy định 58 có nhiều điểm mới về bảo vệ chính trị nội bộ. "
       "Các cấp ủy đã quán triệt Quy định 58 đến từng đảng viên.")
SPANS = [(0, 62), (63, 120), (121, len(DOC))]
ENTRY = Entry(key="quy-dinh-58-qd-tw", type="Quy định", number="58", symbol="QĐ/TW", date="2022-02-08",
              issuer="Bộ Chính trị")


def unit_vectors(favourite: int) -> tuple[np.ndarray, np.ndarray]:
    """Three orthogonal unit vectors; the query vector is closest to unit `favourite`."""
    vectors = np.eye(3, dtype=np.float32)
    query = np.full(3, 0.2, dtype=np.float32)
    query[favourite] = 0.9
    return vectors, query / np.linalg.norm(query)


def test_spans_are_sentences_of_the_document():
    assert [DOC[s:e] for s, e in SPANS][0].endswith("8-2-2022.")
    assert DOC[SPANS[2][0]:SPANS[2][1]].startswith("Các cấp ủy")


def test_the_sentence_with_the_date_answers_when_to_question():
    vectors, query = unit_vectors(favourite=2)  # by meaning alone, the third sentence would win
    asked = NamedQuestion.of([ENTRY], "ban hành ngày nào?")
    assert asked.date and not asked.issuer and asked.numbers == {"58"}
    answer = best_answer(query, QueryTerms("ban hành ngày nào?"), DOC, (0, len(DOC)), SPANS, vectors, asked)
    assert (answer.start, answer.end) == SPANS[0] and answer.states


def test_a_mere_mention_does_not_state_the_date():
    asked = NamedQuestion.of([ENTRY], "ban hành ngày nào?")
    assert not asked.stated_by(DOC[SPANS[1][0]:SPANS[1][1]])  # names Quy định 58, holds no date
    assert asked.stated_by(DOC[SPANS[0][0]:SPANS[0][1]])


def test_a_bare_reference_gets_the_sentence_that_introduces_the_document():
    doc = ("Hướng dẫn số 19-HD/BTCTW, ngày 12/9/2019 hướng dẫn thực hiện một số Điều trong Quy định số 126-QĐ/TW. "
           "Quy định số 126-QĐ/TW, ngày 28/02/2018 của Bộ Chính trị về một số vấn đề bảo vệ chính trị nội bộ.")
    spans = [(0, doc.index(" Quy định số 126-QĐ/TW, ngày")), (doc.index("Quy định số 126-QĐ/TW, ngày"), len(doc))]
    entry = Entry(key="quy-dinh-126-qd-tw", type="Quy định", number="126", symbol="QĐ/TW", date="2018-02-28",
                  issuer="Bộ Chính trị")
    asked = NamedQuestion.of([entry], "QĐ 126")
    cited, introduced = (doc[s:e] for s, e in spans)
    assert asked.stated_by(cited) and asked.stated_by(introduced)  # both name it: the number alone cannot choose
    assert asked.introduced_by(introduced) and not asked.introduced_by(cited)  # the date there is guideline 19's
    vectors, query = unit_vectors(favourite=0)
    answer = best_answer(query, QueryTerms("QĐ 126"), doc, (0, len(doc)), spans, vectors[:2, :2] @ np.eye(2, 3),
                         asked)
    assert (answer.start, answer.end) == spans[1]


def test_issuer_question_needs_the_issuer():
    asked = NamedQuestion.of([ENTRY], "do ai ban hanh")  # accentless
    assert asked.issuer
    assert asked.stated_by("Quy định 58 do Bộ Chính trị ban hành.")
    assert not asked.stated_by("Quy định 58 do Ban Bí thư ban hành.")


def test_without_a_named_document_the_best_scoring_unit_wins():
    vectors, query = unit_vectors(favourite=1)
    answer = best_answer(query, QueryTerms("điểm mới"), DOC, (0, len(DOC)), SPANS, vectors)
    assert (answer.start, answer.end) == SPANS[1] and not answer.states


def test_coverage_needs_the_numbers_the_question_names():
    from server.answers import MISMATCH

    terms = QueryTerms("Đoàn kiểm tra số 5 làm việc với địa phương nào?")
    assert terms.coverage("Đoàn kiểm tra số 5 đã làm việc với tỉnh Bình Thuận.") > 0.5
    # "5" is there, but not as the team's number: the passage is about another team
    assert terms.coverage("Đoàn kiểm tra số 3 làm việc 5 ngày với Thành ủy.") == MISMATCH
    assert QueryTerms("Năm 2018 có bao nhiêu tài liệu bị lộ?").coverage("Năm 2019 có 4 tài liệu bị lộ.") == MISMATCH
    assert QueryTerms("doan kiem tra so 05 lam viec o dau").coverage("Đoàn kiểm tra số 5 làm việc ở Hà Nội.") > 0.5
    assert MISMATCH < 0.0  # below a passage that merely lacks the words


def test_stated_confidence_is_high_but_not_certain():
    assert 0.5 < STATED_CONFIDENCE < 1.0


def test_confidence_reads_the_best_score_and_coverage_among_the_answers():
    from server.answers import Answer, Calibration

    answers = [Answer("a", 0, 1, score=0.95, coverage=0.2), Answer("b", 2, 3, score=0.80, coverage=0.9)]
    assert Calibration.features(answers) == (0.95, 0.9)
    c = Calibration(bias=-1.0, w_score=2.0, w_coverage=1.0)
    assert c.confidence(answers) == pytest.approx(1 / (1 + np.exp(-(-1.0 + 2.0 * 0.95 + 0.9))))
    assert Calibration().confidence(answers) > Calibration().confidence(answers[1:])  # a better answer raises it


def test_calibration_folds_keep_a_questions_askings_together():
    from eval.calibrate import folds_of, reliability

    rows = [{"group": f"uit:{i // 2}"} for i in range(40)]
    fold = folds_of(rows, 5)
    assert all(fold[i] == fold[i + 1] for i in range(0, 40, 2))
    assert len(set(fold.tolist())) == 5
    bins = reliability(np.array([0.05, 0.15, 0.95, 0.97]), np.array([0, 0, 1, 1]))
    assert [b["questions"] for b in bins] == [1, 1, 2] and bins[-1]["answerable_share"] == 1.0
