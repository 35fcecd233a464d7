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
import json
from pathlib import Path

from eval.beir import load_dataset
from tracuu.core.diacritics import QUESTION_PRIOR, DiacriticsModel
from tracuu.settings import Settings

SET = "uit-regulations-qa"
SPLITS = ("dev", "dev_wiki")


def uit_questions(benchmarks: Path) -> list[str]:
    texts: dict[str, str] = {}
    for split in SPLITS:
        texts.update(load_dataset(benchmarks / SET, split).queries)
    return list(texts.values())


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
