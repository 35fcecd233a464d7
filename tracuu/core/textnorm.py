"""Vietnamese text normalization: the one place that decides what "the same word" means.

The indexer, the server and evaluation all call these functions, so a passage and a
query typed in a different Unicode form (NFC/NFD), tone-mark style ("uỷ"/"ủy") or
without diacritics end up as comparable tokens.
"""

from __future__ import annotations

import re
import string
import unicodedata as ud
from functools import lru_cache

# The five tone marks as combining characters (grave, acute, hook above, tilde, dot below).
_TONES = "\u0300\u0301\u0309\u0303\u0323"
# Vowel-quality marks (circumflex, breve, horn): they belong to the letter, not the syllable.
_MODIFIERS = "\u0302\u0306\u031b"
_VOWELS = "aăâeêioôơuưy"
_MODIFIED = "ăâêôơư"
_SYLLABLE = re.compile(
    r"(ngh|ng|gh|ch|kh|nh|ph|th|tr|[bcdđghklmnprstvx])?"  # onset ("gi", "qu": see below)
    rf"([{_VOWELS}]{{1,3}})"  # vowel cluster (incl. glides)
    r"(ch|ng|nh|[cmnpt])?"  # final consonant
)
_LETTERS = re.compile(r"[^\W\d_]+")
# Numbers with internal "." or "," (8.000, 1,5, 3.1) stay one token; everything else is
# split on any non-alphanumeric character, so "58-QĐ/TW" -> ["58", "qđ", "tw"].
_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+")
FOLDED_PREFIX = "~"


def nfc(text: str) -> str:
    """Unicode NFC (precomposed letters), so NFD-typed input compares equal."""
    return ud.normalize("NFC", text)


def _tone_index(base: str, glide_first: bool) -> int | None:
    """Index of the letter that carries the tone in a toneless lowercase syllable, or None."""
    m = _SYLLABLE.fullmatch(base)
    if not m:
        return None
    onset, vowels, coda = m.group(1) or "", m.group(2), m.group(3) or ""
    start = len(onset)
    # Vowel-quality letters always win; with two (ươ), the later one carries it (người).
    modified = [i for i, ch in enumerate(vowels) if ch in _MODIFIED]
    if modified:
        return start + modified[-1]
    if len(vowels) == 1:
        return start
    if len(vowels) == 3:  # oai, oay, oeo, uya, uyu: glide + main vowel + off-glide
        return start + 1
    if coda:  # closed syllable: hoàn, toán, huýt -> the second vowel
        return start + 1
    if vowels in ("oa", "oe", "uy"):  # the only style-dependent case
        return start if glide_first else start + 1
    return start  # ai, ao, ia, ua, ui, ... : the second letter is an off-glide


@lru_cache(maxsize=65536)  # a corpus repeats a few thousand syllables over and over
def _retone_word(word: str, glide_first: bool) -> str:
    """Move the single tone mark of one NFC letter run to its canonical letter."""
    tones, chars = [], []  # tones: (position, mark)
    for i, ch in enumerate(word):
        parts = ud.normalize("NFD", ch)
        tones += [(i, c) for c in parts if c in _TONES]
        chars.append(ud.normalize("NFC", "".join(c for c in parts if c not in _TONES)))
    base = "".join(chars)
    lower = base.lower()
    if len(tones) != 1 or len(base) != len(word) or len(lower) != len(base):
        return word  # toneless, or not one Vietnamese syllable (résumé): leave as is
    if lower[tones[0][0]] not in _VOWELS:
        return word  # a tone on a consonant is not Vietnamese spelling
    # "gi"/"qu" + vowel: the i/u belongs to the onset (già, giữ, quý); "gìn" keeps its i.
    skip = 2 if lower.startswith(("gi", "qu")) and len(lower) > 2 and lower[2] in _VOWELS else 0
    idx = _tone_index(lower[skip:], glide_first)
    if idx is None:
        return word
    chars[skip + idx] = ud.normalize("NFC", chars[skip + idx] + tones[0][1])
    return "".join(chars)


def _retone(text: str, glide_first: bool) -> str:
    return _LETTERS.sub(lambda m: _retone_word(m.group(), glide_first), nfc(text))


def unify_tones(text: str) -> str:
    """Put every syllable's tone mark in one canonical place: hòa, thúy, khỏe, ủy, quý.

    Syllable by syllable: split off the tone mark, locate the vowel that carries it
    (gi/qu onsets, vowel-quality letters ươ/iê/uô/ư..., final consonants), put it back.
    Open "oa/oe/uy" get the tone on the first vowel (hòa, ủy), the form most Vietnamese
    press and our seed corpus use (23 "Tỉnh ủy" vs 1 "Tỉnh uỷ"); Unikey's "kiểu mới"
    and pyvi's dictionary use the other one (hoà, uỷ). Idempotent; case and NFC length are preserved; runs
    that are not a single Vietnamese syllable (numbers, "résumé", "José") are unchanged.
    """
    return _retone(text, glide_first=True)


def fold(text: str) -> str:
    """Strip all diacritics (tones, ă/â/ê/ô/ơ/ư marks, đ->d): the accent-free form."""
    stripped = "".join(c for c in ud.normalize("NFD", text) if not ud.combining(c))
    return nfc(stripped.replace("đ", "d").replace("Đ", "D"))


def normalize(text: str) -> str:
    """THE matching form: NFC, unified tone placement, casefolded."""
    return unify_tones(nfc(text)).casefold()


def has_diacritics(text: str) -> bool:
    """True if the text has any Vietnamese tone/vowel mark or đ (i.e. was typed with accents)."""
    decomposed = ud.normalize("NFD", text)
    return any(c in _TONES or c in _MODIFIERS or c in "đĐ" for c in decomposed)


# The shape of an accent-free Vietnamese syllable: onset, one to three vowels, final consonant (_SYLLABLE on
# folded text, with "qu" as an onset, which the tone rules handle apart). English words mostly fail it
# ("which", "party", "committee"); a few pass ("the", "to").
_FOLDED_SYLLABLE = re.compile(r"(ngh|ng|gh|gi|ch|kh|nh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]{1,3}(ch|ng|nh|[cmnpt])?")
# A text is taken for English when it has at least FOREIGN_MIN_WORDS words, under half of them have a
# Vietnamese syllable's shape, and at least two are English function words. Of the benchmarks' 5,747
# Vietnamese questions with their diacritics stripped, 9 have under half Vietnamese-shaped words (questions
# about "League of Legends" and the like) and none of them two English function words; every gold English
# question has both. Accentless Vietnamese full of foreign terms ("vaccine pfizer covid la gi") stays
# Vietnamese, and short texts are keywords ("Pfizer", "QD 58").
MIN_SYLLABLE_SHARE = 0.5
FOREIGN_MIN_WORDS = 3
ENGLISH_FUNCTION_WORDS = frozenset(
    "a an the of in on at to for from by with about into as and or but not no is are was were be been being do "
    "does did have has had will would can could should may might must what which who whom whose when where why "
    "how many much there this that these those it its their they he she his her we our you your i my".split())


def looks_english(text: str) -> bool:
    """An English question or phrase, not Vietnamese typed with or without diacritics."""
    if has_diacritics(text):
        return False
    words = _LETTERS.findall(fold(text).lower())
    if len(words) < FOREIGN_MIN_WORDS:
        return False
    shaped = sum(bool(_FOLDED_SYLLABLE.fullmatch(w)) for w in words)
    return shaped < MIN_SYLLABLE_SHARE * len(words) and sum(w in ENGLISH_FUNCTION_WORDS for w in words) >= 2


def syllable_tokens(text: str, folded: bool = False) -> list[str]:
    """Normalized letter/digit tokens: no stopwords, no length filter ("a", "o", "an" kept).

    Numbers keep internal "."/"," ("8.000", "1,5"), since those are part of the value;
    any other punctuation splits ("58-QĐ/TW" -> 58, qđ, tw; "8.000km2" -> 8.000, km2),
    so a query for "58" or "QĐ" still hits a regulation number.
    """
    norm = normalize(text)
    return _TOKEN.findall(fold(norm) if folded else norm)


@lru_cache(maxsize=1)
def _pyvi():
    # Importing pyvi unpickles its CRF model (~1 s); only pay that when segmenting.
    from pyvi import ViTokenizer

    return ViTokenizer


def word_tokens(text: str, folded: bool = False) -> list[str]:
    """pyvi word segmentation; multi-syllable words joined with "_" ("bảo_vệ").

    We segment the original-cased text: pyvi's CRF uses istitle/isupper features and
    refuses to join a Capitalized syllable after a lowercase one, so lowercased input
    loses compounds like "Tỉnh_ủy" and names like "Bình_Thuận". Before segmenting we
    move tones to the "hoà/uỷ" placement because that is what pyvi's dictionary
    (models/words.txt) lists; tokens are then re-unified, lowercased and maybe folded.
    Accentless text segments badly in pyvi, so folding happens after segmentation.
    """
    segmented = _pyvi().tokenize(_retone(text, glide_first=False))
    out = []
    for tok in segmented.split():
        tok = normalize(tok.strip(string.punctuation))  # pyvi keeps "Tp." as one token
        if not any(c.isalnum() for c in tok):
            continue  # punctuation token
        out.append(fold(tok) if folded else tok)
    return out


def _is_compound(word: str) -> bool:
    # pyvi keeps URLs/e-mails whole and they may contain "_": only syllable_syllable counts.
    return all(part.isalnum() for part in word.split("_"))


def lexical_tokens(text: str) -> list[str]:
    """The BM25 token stream of a passage (or accented query), holding both forms.

    - every accented syllable ("bảo", "vệ"),
    - every multi-syllable pyvi word ("bảo_vệ"), a phrase bonus; single-syllable words
      are skipped because they would just duplicate the syllables,
    - every folded syllable with a "~" prefix ("~bao", "~ve").
    An accentless query is made only of "~" tokens, so it matches passages whatever
    their diacritics; an accented query also carries the accented tokens, so passages
    with the exact diacritics match more terms and rank above folded-only matches
    ("bán" vs "bàn"). Every syllable, even "ban" or "58", yields both forms.
    Folded compounds are not stored: accentless queries cannot be segmented reliably.
    """
    syllables = syllable_tokens(text)
    compounds = [w for w in word_tokens(text) if "_" in w and _is_compound(w)]
    return syllables + compounds + [FOLDED_PREFIX + fold(s) for s in syllables]


def query_tokens(text: str) -> list[str]:
    """BM25 tokens of a query: lexical_tokens if typed with diacritics, else folded only."""
    if has_diacritics(text):
        return lexical_tokens(text)
    return [FOLDED_PREFIX + s for s in syllable_tokens(text, folded=True)]
