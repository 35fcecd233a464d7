"""How well diacritics come back: dev questions with their diacritics stripped, restored by the model
counted on the set's own corpus (as `tracuu index` would count it), compared syllable by syllable.

    python -m eval.diacritics [--benchmarks DIR] [--json]

Per set: syllable accuracy (restored syllable == original, case aside), question accuracy (every
syllable right), and for comparison the share of syllables that were written without diacritics in
the first place (what leaving the text accentless gets right). Each row is measured with the corpus's
counts alone and with the shipped question counts added (`with_questions`, what the product uses).
Those counts come from uit-regulations-qa's own questions, so its rows add, instead, the counts of
the other half of its questions (2-fold, split by a hash of the question): never a question's own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.beir import load_dataset, read_records
from eval.question_prior import SET as PRIOR_SET
from eval.question_prior import HeldOutRestoration, uit_questions
from tracuu.core.diacritics import DiacriticsModel
from tracuu.core.textnorm import fold, syllable_tokens
from tracuu.settings import Settings

SETS = [("uit-regulations-qa", "dev"), ("uit-regulations-qa", "dev_wiki"), ("alqac-legal", "dev"),
        ("uit-vicov19qa", "dev")]


def compare(model: DiacriticsModel | HeldOutRestoration, questions: list[str]) -> dict:
    right = total = whole = unmarked = 0
    for question in questions:
        original = syllable_tokens(question)
        restored = syllable_tokens(model.restore(fold(question)))
        if len(original) != len(restored):  # tokenization should not change with diacritics
            restored = (restored + [""] * len(original))[:len(original)]
        hits = sum(a == b for a, b in zip(original, restored))
        right += hits
        total += len(original)
        whole += hits == len(original)
        unmarked += sum(a == fold(a) for a in original)
    return {"questions": len(questions), "syllables": total, "syllable_accuracy": round(right / total, 4),
            "question_accuracy": round(whole / len(questions), 4), "left_accentless": round(unmarked / total, 4)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    root = args.benchmarks or Settings().benchmarks
    report = {}
    models: dict[str, DiacriticsModel] = {}
    prior = uit_questions(root)
    for name, split in SETS:
        data = load_dataset(root / name, split)
        if name not in models:
            documents, _ = read_records(data.corpus)
            models[name] = DiacriticsModel.count([p.text for d in documents for p in d.passages]
                                                 + [d.title for d in documents])
        questions = list(data.queries.values())
        row = {"corpus": compare(models[name], questions)}
        shipped = HeldOutRestoration(models[name], prior) if name == PRIOR_SET else models[name].with_questions()
        row["with_questions"] = compare(shipped, questions)
        report[f"{name}/{split}"] = row
    if args.json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        for key, row in report.items():
            print(f"{key}: {row}")
    return report


if __name__ == "__main__":
    main()
