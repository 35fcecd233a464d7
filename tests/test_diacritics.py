"""Restoring diacritics from corpus counts (tracuu.core.diacritics)."""

from __future__ import annotations

from tracuu.core.diacritics import DiacriticsModel
from tracuu.core.textnorm import fold

CORPUS = [
    "Tỉnh Bình Thuận có 1,3 triệu dân, toàn tỉnh có 695 tổ chức cơ sở đảng.",
    "Ban Thường vụ Tỉnh ủy lãnh đạo công tác bảo vệ chính trị nội bộ.",
    "Người dân được tuyên truyền về bảo vệ bí mật nhà nước.",
    "Bàn làm việc của cán bộ được bố trí ở tầng hai.",
]


def model() -> DiacriticsModel:
    return DiacriticsModel.count(CORPUS)


def test_accentless_question_gets_its_diacritics_back():
    assert model().restore("tinh binh thuan co bao nhieu dan") == "tỉnh bình thuận có bao nhiêu dân"


def test_context_picks_between_readings():
    m = model()
    assert m.restore("bao ve bi mat nha nuoc") == "bảo vệ bí mật nhà nước"
    assert m.restore("ban thuong vu") == "ban thường vụ"  # not "bàn", which the corpus also has
    assert m.restore("ban lam viec") == "bàn làm việc"


def test_case_spacing_and_punctuation_are_kept():
    assert model().restore("Tinh uy  Binh Thuan, TINH?") == "Tỉnh ủy  Bình Thuận, TỈNH?"


def test_text_typed_with_any_diacritic_is_left_alone():
    assert model().restore("tinh Bình Thuan") == "tinh Bình Thuan"


def test_an_english_question_is_not_restored():
    # "the", "to" and "can" have the shape of Vietnamese syllables; the rest of the question does not.
    m = DiacriticsModel.count([*CORPUS, "Thế nhưng cán bộ tổ chức có thể làm việc."])
    assert m.restore("the") == "thế"  # a lone word is too short to tell
    question = "How can the party committee report to the province?"
    assert m.restore(question) == question


def test_unknown_syllables_and_numbers_stay_as_typed():
    assert model().restore("xyz 695 tinh") == "xyz 695 tỉnh"
    restored = model().restore("qwerty")
    assert restored == "qwerty" and fold(restored) == "qwerty"


def test_saved_model_restores_the_same(tmp_path):
    m = model()
    m.save(tmp_path / "d.json")
    again = DiacriticsModel.load(tmp_path / "d.json")
    assert again.unigrams == m.unigrams and again.bigrams == m.bigrams
    assert again.restore("bao ve chinh tri noi bo") == m.restore("bao ve chinh tri noi bo") == "bảo vệ chính trị nội bộ"
    assert DiacriticsModel.load(tmp_path / "missing.json") is None



def test_question_counts_add_how_people_ask():
    # Articles say "máy" (machine) and never ask "mấy" (how many): alone, their counts read "may" as
    # "máy"; with counts of questions added, "co may doan" comes back as "có mấy đoàn".
    articles = DiacriticsModel.count(["Máy tính của đoàn kiểm tra có mật khẩu.", "Đoàn kiểm tra làm việc."],
                                     seeds=False)
    assert articles.restore("co may doan kiem tra") == "có máy đoàn kiểm tra"
    asked = DiacriticsModel.count(["Có mấy đoàn kiểm tra?", "Trường có mấy khoa?"], seeds=False)
    both = articles.plus(asked)
    assert both.restore("co may doan kiem tra") == "có mấy đoàn kiểm tra"
    assert both.unigrams["có"] == articles.unigrams["có"] + asked.unigrams["có"]
    assert articles.with_questions().restore("sinh vien co may hoc ky") == "sinh viên có mấy học kỳ"


def test_the_index_file_holds_the_corpus_counts_and_the_reader_adds_the_questions(tmp_path):
    counted = DiacriticsModel.count(CORPUS)
    counted.save(tmp_path / "diacritics.json")
    loaded = DiacriticsModel.load(tmp_path / "diacritics.json")
    assert loaded.unigrams == counted.unigrams  # what the indexer wrote, nothing added
    assert loaded.with_questions().unigrams["mấy"] > counted.unigrams.get("mấy", 0)


def test_held_out_restoration_never_counts_the_question_it_restores():
    # eval.train_ranker's accentless uit copies: the shipped counts hold those very questions, so each
    # must be restored with the other half's questions only (eval.question_prior.HeldOutRestoration).
    from eval.question_prior import HeldOutRestoration, half_of

    articles = DiacriticsModel.count(["Máy tính của đoàn kiểm tra có mật khẩu.", "Đoàn kiểm tra làm việc."],
                                     seeds=False)
    alone = "Có mấy đoàn kiểm tra?"
    assert articles.plus(DiacriticsModel.count([alone], seeds=False)).restore(fold(alone)) == "Có mấy đoàn kiểm tra?"
    assert HeldOutRestoration(articles, [alone]).restore(fold(alone)) == "Có máy đoàn kiểm tra?"  # its half: itself

    other = next(q for q in (f"Khóa {n} có mấy đoàn?" for n in range(50)) if half_of(q) != half_of(alone))
    held_out = HeldOutRestoration(articles, [alone, other])
    assert held_out.restore(fold(alone)) == "Có mấy đoàn kiểm tra?"  # learnt from the other half's question
    unseen = "ban lam viec co may tinh"
    assert held_out.restore(unseen) == articles.with_questions().restore(unseen)  # not a uit question: as shipped
