"""The registry: the Party/State documents a corpus cites, merged across passages and documents.

Built by the indexer from every passage's references (tracuu/core/references.py), stored as
references.json in each index version, and read by the server to resolve the documents a query names.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Iterable

from tracuu.core.references import (Reference, _CODE_OF_TYPE, _TYPES_BY_CODE, _fold, _make_key, _name_base, _norm_number, _slug, find_references)


@dataclass
class Entry:
    key: str
    type: str
    number: str | None
    symbol: str | None = None
    date: str | None = None
    issuer: str | None = None
    title: str | None = None
    name: str | None = None
    term: str | None = None
    passages: list[str] = field(default_factory=list)
    docs: list[str] = field(default_factory=list)
    mentions: int = 0
    notes: list[str] = field(default_factory=list)  # conflicts and ambiguities seen while merging


@dataclass
class _Doc:
    """A document assembled from mentions (or wrapping an Entry, for resolving)."""

    type: str
    ident: str  # unpadded number, or the slug of a named document's name without its term
    facts: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in _FACTS})
    members: list = field(default_factory=list)  # mention indexes, or [entry]
    notes: list[str] = field(default_factory=list)

    def add(self, ref: Reference | Entry, member) -> None:
        self.members.append(member)
        for k in _FACTS:
            if value := getattr(ref, k):
                self.facts[k].add(_slug(value) if k == "symbol" else value)


_FACTS = ("symbol", "date", "issuer", "term")


def _ident(ref: Reference | Entry) -> str:
    return _norm_number(ref.number) if ref.number is not None else _name_base(ref.name)


def _compatible(doc: _Doc, ref: Reference) -> bool:
    symbol = _slug(ref.symbol or "")
    if symbol and doc.facts["symbol"]:
        return symbol in doc.facts["symbol"]  # symbols decide; a date conflict is noted, not split
    return not any((v := getattr(ref, k)) and doc.facts[k] and v not in doc.facts[k]
                   for k in ("date", "issuer", "term"))


def _candidates(index: dict[tuple[str, str], list[_Doc]], ref: Reference) -> list[_Doc]:
    """The documents in `index` ((type, ident) → docs) that `ref` may denote."""
    types = [ref.type]
    if ref.type_inferred:  # "QĐ 58" is a Quy định unless only a Quyết định 58 is known
        types += [t for t in _TYPES_BY_CODE.get(_CODE_OF_TYPE.get(ref.type, ""), []) if t != ref.type]
    for type_ in types:
        found = [d for d in index.get((type_, _ident(ref)), []) if _compatible(d, ref)]
        if found:
            exact = [d for d in found if _slug(ref.symbol or "") in d.facts["symbol"]]
            return exact if ref.symbol and exact else found
    return []


def _natural(s: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _most_common(values: Iterable, what: str, notes: list[str]):
    counts = Counter(v for v in values if v)  # ties: first seen in text order wins
    if len(counts) > 1:
        notes.append(f"conflicting {what}: " + "; ".join(f"{v} ×{n}" for v, n in counts.most_common()))
    return counts.most_common(1)[0][0] if counts else None


def _title_of(titles: list[str], notes: list[str]) -> str | None:
    # “Về tăng cường …” and “Tăng cường …” are the same title: group on the folded text without a
    # leading "về", take the most frequent group, and its longest spelling.
    groups: dict[str, list[str]] = {}
    for t in titles:
        groups.setdefault(re.sub(r"^ve\s+", "", _fold(t)).strip(" ."), []).append(t)
    if len(groups) > 1:
        notes.append("conflicting title: " + "; ".join(f"{g[0]} ×{len(g)}" for g in groups.values()))
    return max(max(groups.values(), key=len), key=len) if groups else None


class Registry:
    """The documents cited by a corpus, merged across passages and documents.

    Identity is (type, number) plus the symbol when known. A mention without a symbol joins the
    one document it can be ("Chỉ thị số 39" → 39-CT/TW) unless its date, issuer or term
    contradicts; when several symbols share the number it stays a document of its own, noted.
    Conflicting dates/issuers/titles inside one document keep the most frequent (ties: first in
    text order) and are listed in `Entry.notes`. "Điều 5" alone is not a document.
    """

    def __init__(self, passages: Iterable[tuple[str, str, str]] = ()):
        self._entries: dict[str, Entry] = {}
        mentions = [(ref, pid, did) for pid, did, text in passages
                    for ref in find_references(text) if ref.type != "Điều"]
        # Most specific mentions first, so a bare "Chỉ thị 39" meets its "39-CT/TW" document.
        order = sorted(range(len(mentions)), key=lambda i: (
            mentions[i][0].symbol is None, mentions[i][0].type_inferred, mentions[i][0].date is None, i))
        index: dict[tuple[str, str], list[_Doc]] = {}
        for i in order:
            ref = mentions[i][0]
            found = _candidates(index, ref)
            bare = [d for d in found if not d.facts["symbol"]]
            if len(found) == 1 or (found and len(bare) == 1):
                doc = found[0] if len(found) == 1 else bare[0]
            else:  # unknown, or a bare number shared by several symbols: a document of its own
                doc = _Doc(ref.type, _ident(ref))
                index.setdefault((doc.type, doc.ident), []).append(doc)
                if found:
                    doc.notes.append(f"bare mentions could be any of {len(found)} documents")
            doc.add(ref, i)
        docs = sorted((d for group in index.values() for d in group),
                      key=lambda d: (-len(d.members), min(d.members)))  # most cited: plain key
        for d in docs:
            entry = self._merge(d.type, [mentions[j] for j in sorted(d.members)], d.notes)
            self._entries[entry.key] = entry
        self._reindex()

    def _merge(self, type_: str, members: list[tuple[Reference, str, str]], notes: list[str]) -> Entry:
        refs = [r for r, _, _ in members]
        e = Entry(key="", type=type_, number=_most_common((r.number for r in refs), "number", []),
                  symbol=_most_common((r.symbol for r in refs), "symbol", notes),
                  date=_most_common((r.date for r in refs), "date", notes),
                  issuer=_most_common((r.issuer for r in refs), "issuer", notes),
                  title=_title_of([r.title for r in refs if r.title], notes),
                  term=_most_common((r.term for r in refs), "term", notes),
                  passages=sorted({p for _, p, _ in members}, key=_natural),
                  docs=sorted({d for _, _, d in members}, key=_natural),
                  mentions=len(refs), notes=notes)
        names = [r.name for r in refs if r.name]
        e.name = max(names, key=lambda n: (e.term is not None and e.term in n, names.count(n))) \
            if names else None
        base = _make_key(e.type, e.number, e.symbol, e.name)
        e.key, n = base, 1
        while e.key in self._entries:  # same key, contradicting facts: keep both, tell apart
            n += 1
            e.key = f"{base}-{e.date}" if n == 2 and e.date else f"{base}-{n}"
        return e

    def _reindex(self) -> None:
        self._index: dict[tuple[str, str], list[_Doc]] = {}
        for e in self._entries.values():
            doc = _Doc(e.type, _ident(e))
            doc.add(e, e)
            self._index.setdefault((e.type, doc.ident), []).append(doc)

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[Entry]:
        return sorted(self._entries.values(), key=lambda e: (
            _fold(e.type), [int(x) for x in re.findall(r"\d+", e.number or "")],
            e.symbol or "", e.name or "", e.key))

    def get(self, key: str) -> Entry | None:
        return self._entries.get(key)

    def candidates(self, ref: Reference) -> list[Entry]:
        return [] if ref.type == "Điều" else [d.members[0] for d in _candidates(self._index, ref)]

    def resolve(self, ref: Reference) -> Entry | None:
        """The registry entry `ref` denotes, or None when unknown or ambiguous."""
        found = self.candidates(ref)
        return found[0] if len(found) == 1 else None

    def resolve_all(self, references: Iterable[Reference]) -> list[Entry]:
        """The distinct entries that these references (a query's, `Query.references`) denote."""
        out: list[Entry] = []
        for ref in references:
            if (e := self.resolve(ref)) and e not in out:
                out.append(e)
        return out

    def to_json(self) -> str:
        return json.dumps({"version": 1, "entries": [asdict(e) for e in self.entries()]},
                          ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, data: str) -> Registry:
        reg = cls()
        reg._entries = {d["key"]: Entry(**d) for d in json.loads(data)["entries"]}
        reg._reindex()
        return reg
