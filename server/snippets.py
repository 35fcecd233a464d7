"""What a reader sees of a result: a snippet of about 300 characters around the answer sentence, with the
question's words marked, and the same marking over the whole passage for "xem đầy đủ".

Marked text is built here as (text, marked) pieces; the template escapes each piece, so no passage text
is ever trusted as HTML. Words match accent-insensitively ("binh thuan" marks "Bình Thuận"): both sides
are compared in their folded form (tracuu.core.textnorm.fold of the normalized syllable).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tracuu.core.textnorm import fold, has_diacritics, syllable_tokens

SNIPPET_CHARS = 300
Pieces = list[tuple[str, bool]]
_WORD = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+")
# Words too common to be worth marking: marking every "của" or "là" hides the words that matter.
_SKIP = frozenset(
    "va la cua co cac nhung mot cho voi trong ngay nao gi the nay do duoc khong bao nhieu ai dau sao "
    "nhu tai tu den ve hay thi ma vi ra a o the of the and is what when who how in on to".split()
)


@dataclass(frozen=True)
class Terms:
    """The question's words to mark: a syllable typed with diacritics matches only itself (normalized), one
    typed without matches any accented form ("thuan" marks "Thuận", "Thuần", ...)."""

    exact: frozenset[str] = frozenset()
    folded: frozenset[str] = frozenset()

    def __contains__(self, word: str) -> bool:
        return word in self.exact or fold(word) in self.folded

    def __bool__(self) -> bool:
        return bool(self.exact or self.folded)


def question_terms(question: str | None) -> Terms:
    """The syllables worth marking, from the question as typed."""
    exact: set[str] = set()
    folded: set[str] = set()
    for syllable in syllable_tokens(question or ""):
        plain = fold(syllable)
        if plain in _SKIP:
            continue
        (exact if has_diacritics(syllable) else folded).add(syllable if has_diacritics(syllable) else plain)
    return Terms(frozenset(exact), frozenset(folded))


def mark(text: str, terms: Terms) -> Pieces:
    """text as pieces, each word that is a question term marked (marked words next to each other joined)."""
    pieces: Pieces = []
    at = 0
    for m in _WORD.finditer(text):
        words = syllable_tokens(m.group())
        if terms and words and all(w in terms for w in words):
            if m.start() > at:
                pieces.append((text[at:m.start()], False))
            pieces.append((m.group(), True))
            at = m.end()
    if at < len(text):
        pieces.append((text[at:], False))
    return _joined(pieces)


def _joined(pieces: Pieces) -> Pieces:
    """Marked words separated only by spaces become one mark ("Bình Thuận", not "Bình" and "Thuận")."""
    out: Pieces = []
    for text, marked in pieces:
        if marked and len(out) >= 2 and out[-2][1] and not out[-1][1] and out[-1][0].isspace():
            gap = out.pop()[0]
            out[-1] = (out[-1][0] + gap + text, True)
        else:
            out.append((text, marked))
    return out


@dataclass
class Snippet:
    before: Pieces = field(default_factory=list)
    answer: Pieces = field(default_factory=list)  # empty when no answer sentence is shown
    after: Pieces = field(default_factory=list)
    cut_start: bool = False  # text left out before / after the snippet
    cut_end: bool = False


def _cut_left(text: str, keep: int) -> tuple[str, bool]:
    """The last ~keep characters of text, starting at a word."""
    if len(text) <= keep:
        return text, False
    part = text[len(text) - keep:]
    space = part.find(" ")
    return (part[space + 1:] if 0 <= space < 40 else part), True


def _cut_right(text: str, keep: int) -> tuple[str, bool]:
    if len(text) <= keep:
        return text, False
    part = text[:keep]
    space = part.rfind(" ")
    return (part[:space] if space > keep - 40 else part), True


def snippet(text: str, terms: Terms, answer: tuple[int, int] | None, size: int = SNIPPET_CHARS) -> Snippet:
    """About `size` characters of a passage's text around its answer sentence (offsets into text), or its
    beginning when no answer is shown."""
    if answer is None:
        body, cut = _cut_right(text, size)
        return Snippet(before=mark(body, terms), cut_end=cut)
    start, end = answer
    room = max(size - (end - start), 0)
    left, right = text[:start], text[end:]
    keep_left = min(len(left), room // 2)
    keep_right = min(len(right), room - keep_left)
    keep_left = min(len(left), room - keep_right)
    before, cut_start = _cut_left(left, keep_left) if keep_left else ("", bool(left))
    after, cut_end = _cut_right(right, keep_right) if keep_right else ("", bool(right))
    return Snippet(before=mark(before, terms), answer=mark(text[start:end], terms), after=mark(after, terms),
                   cut_start=cut_start, cut_end=cut_end)
