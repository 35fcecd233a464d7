"""A user's question, parsed once per request and handed down to every stage of the search."""

from __future__ import annotations

import re
import unicodedata
from functools import cached_property

from tracuu.core.fillers import lexical_text
from tracuu.core.references import Reference, find_query_references
from tracuu.core.textnorm import fold, has_diacritics, looks_english, nfc, query_tokens, syllable_tokens

MAX_QUERY_CHARS = 1000
_QUERY_ARTICLE = re.compile(r"(?<![a-z])dieu\s*(?:thu\s+|so\s+)?(\d{1,4}[a-z]?)(?![\d%]|[.,/]\d)")


class BadQuery(ValueError):
    """A query the user must fix; the message is shown to them as is (in Vietnamese)."""


def clean_text(text: str) -> str:
    """NFC, line breaks and tabs as spaces, without format characters (zero-width spaces, BOM, bidi
    marks): what the user meant to type."""
    return "".join(" " if c.isspace() else c for c in nfc(text) if unicodedata.category(c) != "Cf").strip()


def find_article(query: str, references: list[Reference] | None = None) -> str | None:
    """The article a query names: "Điều 5 Quy định 58 nói gì?" → "5", "dieu 12 luat an ninh mang" → "12".
    `references`: the query's own, when already parsed (Query.references)."""
    for ref in find_query_references(query) if references is None else references:
        if ref.type == "Điều" or ref.article:
            return ref.number if ref.type == "Điều" else ref.article
    m = _QUERY_ARTICLE.search(fold(query).lower())  # "dieu5", "điều thứ 5"
    return m.group(1) if m else None


class Query:
    """The question's text and everything derived from it; each derived form is computed on first use
    and then kept, so no stage parses the question again."""

    def __init__(self, text: str):
        self.text = text
        # The text with diacritics restored (tracuu.core.diacritics), when it was typed without them and
        # the index could restore it: what the dense model reads. BM25 keeps the typed text.
        self.restored: str | None = None
        self.restore_checked = False  # restoration was tried (it may have changed nothing)

    @property
    def embedding_text(self) -> str:
        return self.restored or self.text

    @classmethod
    def parse(cls, raw: str) -> "Query":
        text = clean_text(raw)
        if not text:
            raise BadQuery("Câu hỏi trống: hãy nhập nội dung cần tìm.")
        if len(text) > MAX_QUERY_CHARS:
            raise BadQuery(f"Câu hỏi dài {len(text)} ký tự, vượt quá giới hạn {MAX_QUERY_CHARS} ký tự.")
        if any(unicodedata.category(c) == "Cc" for c in text):
            raise BadQuery("Câu hỏi chứa ký tự điều khiển (như NUL); hãy xóa chúng và thử lại.")
        return cls(text)

    def __repr__(self) -> str:
        return f"Query({self.text!r})"

    @cached_property
    def accented(self) -> bool:
        """Typed with diacritics: compare words accent-aware; otherwise compare folded forms."""
        return has_diacritics(self.text)

    @cached_property
    def english(self) -> bool:
        """Written in English, not in Vietnamese (with or without diacritics)."""
        return looks_english(self.text)

    @cached_property
    def lexical_text(self) -> str:
        """What word matching reads: the restored text if there is one, and a long question without its
        greetings, thanks and particles (tracuu.core.fillers). Read after `Searcher.prepare`."""
        return lexical_text(self.restored or self.text)

    @cached_property
    def tokens(self) -> tuple[str, ...]:
        """BM25 tokens of lexical_text: pyvi words, syllables and their folded forms; for accentless text
        the folded syllables only, plus, once restored, the restored words and syllables (a wrongly restored
        syllable still matches through its folded form, which is the typed one)."""
        return tuple(query_tokens(self.lexical_text))

    @cached_property
    def folded_syllables(self) -> tuple[str, ...]:
        return tuple(syllable_tokens(self.lexical_text, folded=True))

    @cached_property
    def numbers(self) -> frozenset[str]:
        """The numbers it names ("58", "2018", "1,3"): an answer must hold them."""
        return frozenset(t for t in self.folded_syllables if any(c.isdigit() for c in t))

    @cached_property
    def names(self) -> frozenset[str]:
        """Accent-free syllables of its capitalized words after the first ("Bình Thuận", "Hà Nội")."""
        words = self.lexical_text.split()
        return frozenset(t for w in words[1:] if w[:1].isupper() for t in syllable_tokens(w, folded=True))

    @cached_property
    def references(self) -> tuple[Reference, ...]:
        """The Party/State documents the question names ("Quy định 58", "ct 39")."""
        return tuple(find_query_references(self.text))

    @cached_property
    def article(self) -> str | None:
        """The article number it names ("Điều 5 …" → "5")."""
        return find_article(self.text, list(self.references))

    @cached_property
    def rest(self) -> "Query":
        """The question without its document references: "Quy định 58 ban hành ngày nào?" → "ban hành ngày nào?"."""
        if not self.references:
            return self
        pieces, last = [], 0
        for ref in self.references:
            pieces.append(self.text[last:ref.start])
            last = ref.end
        pieces.append(self.text[last:])
        return Query(" ".join(" ".join(pieces).split()))
