"""tracuu.core.fillers: a long question loses its greetings, thanks and particles before BM25; a short one
is read as typed."""

from __future__ import annotations

import re

from tracuu.core.fillers import drop_fillers, is_long, lexical_text, syllable_count
from tracuu.core.query import Query

LONG_QUESTION = ("Thưa bác sĩ, cho em hỏi con em 7 tháng tuổi bị sốt nhẹ sau khi tiêm vaccine phòng bệnh "
                 "thì có cần đưa đi khám không ạ? Em cảm ơn bác sĩ nhiều.")


def words(text: str) -> str:
    """A stand-in for pyvi: the few compounds these tests need, joined with "_", punctuation apart."""
    for compound in ("bác sĩ", "trẻ em", "cảm ơn", "tiêm chủng"):
        text = text.replace(compound, compound.replace(" ", "_"))
    return re.sub(r"([,.?!])", r" \1", text)


def test_long_means_more_than_the_threshold():
    assert syllable_count("Tôi có tiêm được vaccine Covid-19 không?") == 8
    assert not is_long("một " * 25) and is_long("một " * 26)


def test_fillers_are_dropped_but_content_words_stay():
    assert drop_fillers("Thưa bác sĩ, cho em hỏi trẻ em có tiêm được không ạ? Em cảm ơn.", words) == \
        "trẻ em có tiêm được không?"
    assert drop_fillers("Tôi là bác sĩ", words) == "Tôi là bác sĩ"  # nothing would remain: kept whole


def test_only_long_questions_lose_their_fillers():
    short = "Cho em hỏi bác sĩ trực ở đâu ạ?"
    assert lexical_text(short) == short
    cleaned = lexical_text(LONG_QUESTION)  # real pyvi
    assert "bác sĩ" not in cleaned.lower() and "cảm ơn" not in cleaned and " ạ" not in cleaned
    assert "sốt nhẹ" in cleaned and "tiêm vaccine" in cleaned and "7 tháng tuổi" in cleaned


def test_query_tokens_and_ranker_words_read_the_question_without_fillers():
    query = Query(LONG_QUESTION)
    assert query.lexical_text == lexical_text(LONG_QUESTION)
    assert "bác_sĩ" not in query.tokens and "cảm_ơn" not in query.tokens and "sốt" in query.tokens
    assert "bac" not in query.folded_syllables and "sot" in query.folded_syllables
    assert "7" in query.numbers
    assert "bác_sĩ" in Query("Bác sĩ trực ở đâu?").tokens  # a short question keeps every word


def test_a_restored_long_question_loses_its_fillers_too():
    query = Query("thua bac si cho em hoi")
    query.restored = "thưa bác sĩ cho em hỏi " + LONG_QUESTION.split("hỏi ", 1)[1]
    assert "bác_sĩ" not in query.tokens and "sốt" in query.tokens
