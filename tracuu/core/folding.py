"""A folded copy of a text (lower-case, no diacritics, đ→d) with one character per original character
cluster, and the map back: the reference grammar matches on the folded copy and reports offsets into the
caller's text, NFC or NFD. textnorm.fold decides what a letter folds to."""

from __future__ import annotations

import unicodedata

from tracuu.core.textnorm import fold


def _fold_char(ch: str) -> str:
    if ch.isspace():
        return " "  # the seeds contain non-breaking spaces
    low = fold(ch).lower()
    return low if len(low) == 1 else ch  # keep one char per char, or offsets drift


class Folded:
    """Folded copy of `text` plus the map from folded positions back to `text`."""

    def __init__(self, text: str):
        self.text = text
        chars: list[str] = []
        starts: list[int] = []
        for i, ch in enumerate(text):
            if chars and unicodedata.combining(ch):
                continue  # an NFD mark belongs to the previous base character
            chars.append(_fold_char(ch))
            starts.append(i)
        self.s = "".join(chars)
        self._starts = starts + [len(text)]

    def pos(self, i: int) -> int:
        return self._starts[i]

    def orig(self, i: int, j: int) -> str:
        return self.text[self._starts[i]:self._starts[j]]


def fold_text(text: str) -> str:
    return Folded(text).s
