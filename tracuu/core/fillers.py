"""What a person writes around a long question: greetings, thanks, who is asked, who asks, particles.

"Thưa bác sĩ, cho em hỏi trẻ em có tiêm được không ạ? Em cảm ơn." is, for BM25, "trẻ em có tiêm được
không?": the rest only matches passages that happen to say "bác sĩ" or "cảm ơn". `Query.tokens` drops
these words from questions over LONG syllables (uit-vicov19qa's community questions); a short question is
left as typed, where the same words carry meaning more often. Measured in docs/long-questions.md: vicov
train (questions never read when the list was written) hybrid hit@1 .300 → .305, uit and alqac unchanged.
"""

from __future__ import annotations

import re

from tracuu.core.textnorm import _pyvi, normalize, syllable_tokens

LONG = 25  # syllables: a question with more is "long"
FILLER_PHRASES = ("cho em hỏi", "cho tôi hỏi", "cho mình hỏi", "cho cháu hỏi", "cho con hỏi", "cho hỏi",
                  "xin hỏi", "xin chào", "xin cảm ơn", "xin cám ơn", "chân thành cảm ơn", "rất mong",
                  "tư vấn giúp", "tư vấn cho", "giải đáp giúp", "trả lời giúp", "muốn hỏi", "thưa bác sĩ",
                  "chào bác sĩ", "nhờ bác sĩ", "các bác sĩ", "các chuyên gia")
FILLER_WORDS = frozenset(normalize(w) for w in (  # compared with pyvi words: compounds take a "_"
    "ạ", "à", "ơi", "nhé", "nha", "nhỉ", "dạ", "vâng", "thưa", "chào", "xin", "cảm_ơn", "cám_ơn", "em", "e",
    "mình", "tôi", "tớ", "bác_sĩ", "bs", "chuyên_gia", "thì", "là", "mà", "vậy", "liệu", "giúp", "nhờ", "hỏi"))
_PHRASES = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, FILLER_PHRASES), key=len, reverse=True))
                      + r")\b", re.IGNORECASE)


def syllable_count(text: str) -> int:
    return len(syllable_tokens(text))


def is_long(text: str, threshold: int = LONG) -> bool:
    return syllable_count(text) > threshold


def drop_fillers(text: str, segment=None) -> str:
    """The question without FILLER_PHRASES and FILLER_WORDS, cut out of the text as typed. Words are
    pyvi's, so "trẻ em" keeps its "em"; a compound of fillers only ("Vậy_em") goes too. The question
    itself if nothing would remain. `segment` is pyvi's tokenize (injectable)."""
    segment = segment or _pyvi().tokenize
    rest = _PHRASES.sub(" ", text)
    cut, cursor = [], 0
    for word in segment(rest).split():
        found = re.compile(r"\s+".join(map(re.escape, word.split("_")))).search(rest, cursor)
        cursor = found.end() if found else cursor
        filler = normalize(word) in FILLER_WORDS or all(normalize(p) in FILLER_WORDS for p in word.split("_"))
        if found and filler:
            cut.append(found.span())
    for start, end in reversed(cut):
        rest = rest[:start] + " " + rest[end:]
    rest = re.sub(r"\s*([,.;:!?…])(?:\s*[,.;:!?…])*", r"\1", " ".join(rest.split()))  # "không ạ ? ." -> "không?"
    rest = re.sub(r"^[\s,.;:!?…]+", "", rest)
    return rest if syllable_count(rest) else text


def lexical_text(text: str) -> str:
    """What BM25 reads of a question: a long one without its fillers, a short one as typed."""
    return drop_fillers(text) if is_long(text) else text
