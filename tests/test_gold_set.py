"""The hand-written gold question set eval/gold.jsonl is well formed and grounded in the seed corpus."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GOLD = REPO / "eval" / "gold.jsonl"
CORPUS = REPO / "corpus"

MIN_TOTAL = 60
MIN_PER_KIND = {
    "natural": 20,
    "accentless": 12,
    "keyword": 10,
    "regulation": 10,
    "english": 5,
    "unanswerable": 8,
}
KEYS = {"id", "kind", "question", "answers", "doc"}


@lru_cache(maxsize=1)
def gold() -> list[dict]:
    rows = []
    for n, line in enumerate(GOLD.read_text("utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            assert isinstance(row, dict), f"line {n} is not a JSON object"
            rows.append(row)
    return rows


@lru_cache(maxsize=None)
def doc_text(doc: str) -> str:
    return (CORPUS / f"{doc}.txt").read_text("utf-8")


def has_vietnamese_marks(text: str) -> bool:
    if "đ" in text or "Đ" in text:
        return True
    return any(unicodedata.combining(ch) for ch in unicodedata.normalize("NFD", text))


def test_file_is_utf8_jsonl_without_ascii_escapes():
    raw = GOLD.read_bytes().decode("utf-8")
    assert "\\u" not in raw, "write with ensure_ascii=False"
    assert len(gold()) >= MIN_TOTAL


def test_fields_and_types():
    for row in gold():
        assert set(row) == KEYS, row
        assert re.fullmatch(r"g\d{3}", row["id"]), row["id"]
        assert row["kind"] in MIN_PER_KIND, row
        assert isinstance(row["question"], str) and row["question"].strip() == row["question"] != ""
        assert isinstance(row["answers"], list)
        assert all(isinstance(a, str) and a.strip() for a in row["answers"]), row
        assert row["doc"] is None or isinstance(row["doc"], str)


def test_ids_and_questions_are_unique():
    ids = Counter(row["id"] for row in gold())
    questions = Counter(row["question"].casefold() for row in gold())
    assert [i for i, c in ids.items() if c > 1] == []
    assert [q for q, c in questions.items() if c > 1] == []


def test_minimum_count_per_kind():
    counts = Counter(row["kind"] for row in gold())
    for kind, minimum in MIN_PER_KIND.items():
        assert counts[kind] >= minimum, f"{kind}: {counts[kind]} < {minimum}"


def test_unanswerable_have_no_answers_and_no_doc():
    for row in gold():
        if row["kind"] == "unanswerable":
            assert row["answers"] == [] and row["doc"] is None, row


def test_answerable_have_1_to_3_answers_in_an_existing_doc():
    for row in gold():
        if row["kind"] == "unanswerable":
            continue
        assert 1 <= len(row["answers"]) <= 3, row
        assert isinstance(row["doc"], str) and (CORPUS / f"{row['doc']}.txt").is_file(), row


def test_answers_occur_verbatim_within_a_single_line():
    for row in gold():
        if row["kind"] == "unanswerable":
            continue
        text = doc_text(row["doc"])
        for answer in row["answers"]:
            assert "\n" not in answer, (row["id"], answer)
            assert answer in text, f"{row['id']}: {answer!r} not in {row['doc']}"
            assert any(answer in line for line in text.splitlines()), (row["id"], answer)


def test_accentless_questions_have_no_diacritics():
    for row in gold():
        if row["kind"] == "accentless":
            assert not has_vietnamese_marks(row["question"]), row


@pytest.mark.parametrize("text,expected", [("tinh binh thuan co bao nhieu dang vien", False),
                                           ("QD 126-QD/TW", False), ("đang", True), ("ĐẢNG", True),
                                           ("Bình", True), ("thuận", True)])
def test_diacritic_check_itself(text, expected):
    assert has_vietnamese_marks(text) is expected
