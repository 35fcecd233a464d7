"""Unit tests for tracuu.core.textnorm (the single normalization used everywhere)."""

from __future__ import annotations

import unicodedata as ud
from pathlib import Path

import bm25s
import pytest

from tracuu.core.textnorm import (
    fold,
    has_diacritics,
    lexical_tokens,
    looks_english,
    nfc,
    normalize,
    query_tokens,
    syllable_tokens,
    unify_tones,
    word_tokens,
)

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SEED_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))]

# (other placement, canonical placement)
TONE_PAIRS = [
    ("uỷ", "ủy"),
    ("Uỷ", "Ủy"),
    ("hoà", "hòa"),
    ("HOÀ", "HÒA"),
    ("thuý", "thúy"),
    ("khoẻ", "khỏe"),
    ("Tỉnh uỷ", "Tỉnh ủy"),
    ("oá", "óa"),
    ("uý", "úy"),
    ("oè", "òe"),
    ("hoạ", "họa"),
    ("loè", "lòe"),
    ("qúy", "quý"),
    ("qủa", "quả"),
    ("thủơ", "thuở"),
    ("ngừơi", "người"),
    ("tuýêt", "tuyết"),
    ("khủyu", "khuỷu"),
    ("ngóai", "ngoái"),
    ("hóan", "hoán"),
    ("hóach", "hoách"),
    ("gịa", "giạ"),
    ("thúê", "thuế"),
    ("rựơu", "rượu"),
    ("Văn hoá Thể thao", "Văn hóa Thể thao"),
]

UNCHANGED = ["quý", "gìn", "giữ", "già", "giếng", "thuở", "người", "khuya", "tuyết", "của", "mùa",
             "xoắn", "huýt", "58-QĐ/TW", "8.000km2", "résumé", "José", "café", "Zürich", "COVID-19"]


def test_nfc_composes_nfd_input():
    assert nfc(ud.normalize("NFD", "Tỉnh ủy")) == "Tỉnh ủy"


@pytest.mark.parametrize(("other", "canonical"), TONE_PAIRS)
def test_tone_pairs_unify(other, canonical):
    assert unify_tones(other) == canonical
    assert unify_tones(canonical) == canonical
    assert normalize(other) == normalize(canonical)
    assert unify_tones(ud.normalize("NFD", other)) == canonical


@pytest.mark.parametrize("word", UNCHANGED)
def test_already_canonical_or_foreign_words_unchanged(word):
    assert unify_tones(word) == word


def test_seed_tinh_uy_spellings_normalize_identically():
    text = "\n".join(SEED_TEXTS)
    assert "Tỉnh uỷ" in text and "Tỉnh ủy" in text
    assert normalize("Tỉnh uỷ") == normalize("Tỉnh ủy") == "tỉnh ủy"
    assert "uỷ" not in normalize(text)


@pytest.mark.parametrize("text", SEED_TEXTS)
def test_idempotent_and_length_preserving_on_seeds(text):
    once = normalize(text)
    assert normalize(once) == once
    assert unify_tones(unify_tones(text)) == unify_tones(text)
    assert len(unify_tones(nfc(text))) == len(nfc(text))


def test_fold():
    assert fold("Đảng ủy") == "Dang uy"
    assert fold("Người dân Hà Nội") == "Nguoi dan Ha Noi"
    assert fold(ud.normalize("NFD", "Đảng ủy")) == "Dang uy"


def test_has_diacritics():
    assert has_diacritics("bảo vệ")
    assert has_diacritics("đang")
    assert has_diacritics(ud.normalize("NFD", "bảo vệ"))
    assert not has_diacritics("bao ve chinh tri noi bo 2024")


@pytest.mark.parametrize("text", [
    "tinh binh thuan co bao nhieu dang vien",  # accentless
    "Tỉnh Bình Thuận có bao nhiêu đảng viên?",
    "quy trinh nghien cuu khoa hoc cua truong",  # "nghiên", "trường": the longest onsets and rhymes
    "Pfizer", "COVID vaccine", "QD 58",  # keywords: too short to judge
    "League of Legends là gì?",  # diacritics decide
    "vaccine pfizer covid la gi",  # accentless, with foreign terms but no English grammar
    "to chuc the nao",  # "to" and "the" are English words, but every word is a Vietnamese syllable
])
def test_vietnamese_text_is_not_taken_for_english(text):
    assert not looks_english(text)


@pytest.mark.parametrize("text", [
    "How many ethnic groups live in Binh Thuan province?",
    "Which general led the inspection team that worked with the Hanoi Party Committee?",
    "what does the committee do",
])
def test_english_is_recognized(text):
    assert looks_english(text)


def test_short_syllables_kept():
    assert syllable_tokens("a o an to no") == ["a", "o", "an", "to", "no"]
    assert syllable_tokens("Ô, Ủy ban", folded=True) == ["o", "uy", "ban"]


def test_regulation_numbers_and_measures():
    assert syllable_tokens("Quy định 58-QĐ/TW") == ["quy", "định", "58", "qđ", "tw"]
    assert syllable_tokens("58-QĐ/TW", folded=True) == ["58", "qd", "tw"]
    assert syllable_tokens("8.000km2, tăng 1,5%.") == ["8.000", "km2", "tăng", "1,5"]


def test_word_tokens_segment_compounds():
    words = word_tokens("Kiểm tra công tác bảo vệ chính trị nội bộ tại Ban Thường vụ Tỉnh uỷ Bình Thuận.")
    assert "bảo_vệ" in words and "chính_trị" in words and "tỉnh_ủy" in words
    assert "." not in words
    assert "bao_ve" in word_tokens("bảo vệ", folded=True)


@pytest.mark.parametrize("text", SEED_TEXTS[:2] + ["Hoà bình, Tỉnh uỷ, qúy khách, 58-QĐ/TW"])
def test_nfd_input_tokenizes_like_nfc(text):
    nfd = ud.normalize("NFD", text)
    assert nfd != text
    assert normalize(nfd) == normalize(text)
    for fn in (syllable_tokens, word_tokens):
        assert fn(nfd) == fn(text)
        assert fn(nfd, folded=True) == fn(text, folded=True)
    assert lexical_tokens(nfd) == lexical_tokens(text)
    assert query_tokens(nfd) == query_tokens(text)


def test_lexical_tokens_hold_both_forms():
    toks = lexical_tokens("Bảo vệ chính trị")
    assert {"bảo", "vệ", "bảo_vệ", "chính_trị", "~bao", "~ve"} <= set(toks)
    assert "~bảo" not in toks and "bao_ve" not in toks


def test_query_tokens_accentless_vs_accented():
    assert query_tokens("bao ve chinh tri") == ["~bao", "~ve", "~chinh", "~tri"]
    accented = query_tokens("bảo vệ chính trị")
    assert {"bảo", "vệ", "bảo_vệ", "~bao", "~ve"} <= set(accented)


PASSAGES = [
    "Công tác bảo vệ chính trị nội bộ là nhiệm vụ quan trọng của Đảng.",
    "Cửa hàng bán ghế gỗ tại Hà Nội.",
    "Cửa hàng bàn ghế gỗ tại Hà Nội.",
    "Ban Thường vụ Tỉnh ủy họp về kinh tế.",
    "Người dân đi bầu cử đại biểu Quốc hội.",
]


@pytest.fixture(scope="module")
def bm25():
    retriever = bm25s.BM25()
    # bm25s accepts pre-tokenized input as a list of token lists.
    retriever.index([lexical_tokens(p) for p in PASSAGES], show_progress=False)
    return retriever


def _ranking(retriever, query: str) -> list[int]:
    scores = retriever.get_scores(query_tokens(query))
    return sorted(range(len(PASSAGES)), key=lambda i: -scores[i])


def test_bm25_accentless_query_finds_passage(bm25):
    assert _ranking(bm25, "bao ve chinh tri noi bo")[0] == 0
    assert _ranking(bm25, "tinh uy")[0] == 3


def test_bm25_exact_diacritics_rank_first(bm25):
    scores = bm25.get_scores(query_tokens("bán ghế gỗ"))
    assert scores[1] > scores[2] > 0  # "bàn" still matches through "~ban", but lower
    scores = bm25.get_scores(query_tokens("bàn ghế gỗ"))
    assert scores[2] > scores[1] > 0
    # Without diacritics both spellings are equally plausible.
    scores = bm25.get_scores(query_tokens("ban ghe go"))
    assert scores[1] == pytest.approx(scores[2])
