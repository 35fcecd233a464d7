"""Diacritics restored from the corpus's own language: "tinh binh thuan co bao nhieu dan" ->
"tỉnh Bình Thuận có bao nhiêu dân", so that the dense model, which reads accentless text poorly, sees
what the person meant.

The indexer counts, over every passage, how often each accented syllable and each pair of adjacent
syllables occurs (`DiacriticsModel.count`); the server then picks, for an accentless query, the accented
reading of its syllables that the counts make most likely (a bigram model with interpolated unigram
back-off, decoded by Viterbi). Syllables the corpus never wrote stay as typed. A short list of common
question words seeds the counts, since questions use words ("gì", "nào", "bao nhiêu") that articles
rarely do; so do the counts of 1,224 real questions (`question_prior.json`, from uit-regulations-qa,
MIT), added when an index is opened (`with_questions`).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from tracuu.core.textnorm import fold, has_diacritics, looks_english, syllable_tokens

# Question words and everyday phrases, as pairs: each counts as if seen this many times in the corpus.
SEED = (
    "có bao nhiêu; bao nhiêu người; là gì; là ai; ai là; ở đâu; khi nào; vào ngày nào; ngày nào; năm nào; "
    "như thế nào; thế nào; tại sao; vì sao; có phải; có không; được không; làm gì; những gì; cái gì; "
    "bao lâu; mấy; bao giờ; của ai; do ai; ai ký; ban hành ngày nào; có những; gồm những gì; "
    "bao nhiêu dân; dân số; người dân; bao nhiêu tuổi; bao nhiêu năm"
)
SEED_WEIGHT = 3
QUESTION_PRIOR = Path(__file__).with_name("question_prior.json")  # python -m eval.question_prior
LAMBDA = 0.8  # weight of the bigram estimate against the unigram one
FLOOR = 1e-7  # probability of a syllable the model has never seen in that form
_WORD = re.compile(r"[^\W\d_]+")


class DiacriticsModel:
    def __init__(self, unigrams: dict[str, int], bigrams: dict[str, int]):
        self.unigrams = unigrams
        self.bigrams = bigrams  # "a b" -> count
        self.total = sum(unigrams.values()) or 1
        self.candidates: dict[str, list[str]] = {}
        for syllable in unigrams:
            self.candidates.setdefault(fold(syllable), []).append(syllable)
        for forms in self.candidates.values():
            forms.sort(key=lambda s: (-unigrams[s], s))  # deterministic order

    @classmethod
    def count(cls, texts: Iterable[str], seeds: bool = True) -> "DiacriticsModel":
        """From the indexed texts (passages, titles), and the SEED phrases unless seeds=False."""
        unigrams: Counter[str] = Counter()
        bigrams: Counter[str] = Counter()
        seeded = [(phrase, SEED_WEIGHT) for phrase in SEED.split("; ")] if seeds else []
        for text, weight in [*((t, 1) for t in texts), *seeded]:
            syllables = [s for s in syllable_tokens(text) if not s[0].isdigit()]
            for s in syllables:
                unigrams[s] += weight
            for a, b in zip(syllables, syllables[1:]):
                bigrams[f"{a} {b}"] += weight
        return cls(dict(unigrams), dict(bigrams))

    def with_questions(self) -> "DiacriticsModel":
        """This model with the shipped question counts added (as if the corpus had asked them once each)."""
        return self.plus(_question_counts(QUESTION_PRIOR))

    def plus(self, other: "DiacriticsModel") -> "DiacriticsModel":
        """Both models' counts summed."""
        return DiacriticsModel(
            {s: self.unigrams.get(s, 0) + other.unigrams.get(s, 0) for s in {*self.unigrams, *other.unigrams}},
            {p: self.bigrams.get(p, 0) + other.bigrams.get(p, 0) for p in {*self.bigrams, *other.bigrams}})

    def to_json(self) -> str:
        return json.dumps({"version": 1, "unigrams": self.unigrams, "bigrams": self.bigrams},
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str) -> "DiacriticsModel":
        parsed = json.loads(data)
        return cls(parsed["unigrams"], parsed["bigrams"])

    def save(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "DiacriticsModel | None":
        """None when the index has no model (built before restoration existed)."""
        if not path.is_file():
            return None
        return cls.from_json(path.read_text(encoding="utf-8"))

    def _log_p(self, previous: str | None, syllable: str) -> float:
        unigram = self.unigrams.get(syllable, 0) / self.total
        if previous is None or not self.unigrams.get(previous):
            p = unigram
        else:
            p = LAMBDA * self.bigrams.get(f"{previous} {syllable}", 0) / self.unigrams[previous] + (1 - LAMBDA) * unigram
        return math.log(p + FLOOR)

    def restore(self, text: str) -> str:
        """The text with diacritics put back where the corpus knows the syllables; text already typed
        with any diacritic (the person chose their spelling) or in English is returned unchanged (in an
        English question "the" must not become "thế")."""
        if has_diacritics(text) or looks_english(text):
            return text
        words = list(_WORD.finditer(text))
        if not words:
            return text
        options = [self.candidates.get(w.group().lower(), [w.group().lower()]) for w in words]
        # Viterbi over the syllables; a state is the reading chosen for the current syllable.
        best = {s: (self._log_p(None, s), [s]) for s in options[0]}
        for forms in options[1:]:
            step = {}
            for s in forms:
                score, path = max(((prev + self._log_p(p, s), path) for p, (prev, path) in best.items()),
                                  key=lambda item: item[0])
                step[s] = (score, [*path, s])
            best = step
        chosen = max(best.values(), key=lambda item: item[0])[1]
        pieces, last = [], 0
        for match, syllable in zip(words, chosen):
            pieces.append(text[last:match.start()])
            pieces.append(_same_case(match.group(), syllable))
            last = match.end()
        pieces.append(text[last:])
        return "".join(pieces)


@lru_cache(maxsize=2)
def _question_counts(path: Path) -> DiacriticsModel:
    return DiacriticsModel.from_json(path.read_text(encoding="utf-8"))


def _same_case(typed: str, syllable: str) -> str:
    if typed.isupper() and len(typed) > 1:
        return syllable.upper()
    if typed[:1].isupper():
        return syllable[:1].upper() + syllable[1:]
    return syllable
