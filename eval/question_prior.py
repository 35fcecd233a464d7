"""Write the question-language counts that diacritics restoration adds to every corpus's counts.

    python -m eval.question_prior [--benchmarks DIR]      # writes tracuu/core/question_prior.json

An index's restoration model is counted over its articles, which rarely ask anything: "mấy", "gì",
"bao lâu" are rare there, so an accentless question's question words come back wrong ("máy" for
"mấy"). These counts are the syllables and syllable pairs of uit-regulations-qa's questions (dev and
dev_wiki, 1,224 questions; MIT licence, the one set whose questions may ship), added to the corpus's
counts when an index is opened (`DiacriticsModel.with_questions`). docs/quality.md step 14 measures it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from eval.beir import UIT, load_dataset
from tracuu.core.diacritics import QUESTION_PRIOR, DiacriticsModel
from tracuu.core.store import DIACRITICS_FILE, IndexReader
from tracuu.core.textnorm import fold
from tracuu.settings import Settings

SET = UIT
SPLITS = ("dev", "dev_wiki")


def uit_questions(benchmarks: Path) -> list[str]:
    texts: dict[str, str] = {}
    for split in SPLITS:
        texts.update(load_dataset(benchmarks / SET, split).queries)
    return list(texts.values())


def half_of(question: str) -> int:
    """0 or 1 by a hash of the question (as written): the 2-fold split that keeps each uit question out of
    the counts it is restored with."""
    return int(hashlib.sha1(question.encode()).hexdigest(), 16) % 2


def other_half(questions: list[str], half: int) -> DiacriticsModel:
    """The counts of the questions that are not in `half`."""
    return DiacriticsModel.count([q for q in questions if half_of(q) != half], seeds=False)


def _key(text: str) -> str:
    return " ".join(fold(text).split())


class HeldOutRestoration:
    """Restoration for an index of uit's corpus that never counts the question being restored. The shipped
    counts hold every uit question, so with them each accentless uit question comes back perfectly and
    its features are those of the typed question: the ranker's accentless training copies (and their
    CV figures) would then teach and measure nothing. A uit question is restored with the corpus's
    counts plus the other half's questions; any other text as the product restores it."""

    def __init__(self, corpus: DiacriticsModel, questions: list[str]):
        self.models = [corpus.plus(other_half(questions, h)) for h in (0, 1)]
        self.half = {_key(q): half_of(q) for q in questions}
        self.shipped = corpus.with_questions()

    def restore(self, text: str) -> str:
        half = self.half.get(_key(text))
        return (self.shipped if half is None else self.models[half]).restore(text)


def hold_out(reader: IndexReader, benchmarks: Path) -> None:
    """Give `reader` (an index of uit's corpus, opened for evaluation) HeldOutRestoration in place of the
    shipped restoration."""
    corpus = DiacriticsModel.load(reader.version / DIACRITICS_FILE)
    if corpus is not None:
        reader.diacritics = HeldOutRestoration(corpus, uit_questions(benchmarks))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.question_prior", description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmarks", type=Path, default=None, help="default: TRACUU_BENCHMARKS")
    parser.add_argument("--out", type=Path, default=QUESTION_PRIOR)
    args = parser.parse_args(argv)
    questions = uit_questions(args.benchmarks or Settings().benchmarks)
    counted = DiacriticsModel.count(questions, seeds=False)
    args.out.write_text(json.dumps({
        "source": f"{SET} questions ({', '.join(SPLITS)}), MIT licence; written by python -m eval.question_prior",
        "questions": len(questions), "unigrams": dict(sorted(counted.unigrams.items())),
        "bigrams": dict(sorted(counted.bigrams.items()))}, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(questions)} câu hỏi, {len(counted.unigrams)} âm tiết, {len(counted.bigrams)} cặp")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
