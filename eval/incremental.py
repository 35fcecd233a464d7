"""Measure an incremental re-index against a full rebuild on a corpus of ≥ 2,000 real documents.

    python -m eval.incremental [--corpus-jsonl FILE (default: $TRACUU_BENCHMARKS/alqac-legal/corpus.jsonl)] [--work DIR]

Writes each record of a BEIR corpus as a .txt file (title line, blank line, text), builds the index
with empty caches (the full rebuild), changes one document, and indexes again (the incremental run).
Both runs use `tracuu index` in a subprocess, exactly as a user would, with a private TRACUU_HOME that
shares only the converted model. Prints JSON: documents, seconds of each run, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tracuu.settings import Settings


def write_corpus(corpus_jsonl: Path, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    with corpus_jsonl.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            name = re.sub(r"[^\w.-]+", "_", record["_id"])[:120]
            (folder / f"{name}.txt").write_text(f"{record.get('title') or record['_id']}\n\n{record['text']}\n", encoding="utf-8")
            count += 1
    return count


def _index(corpus: Path, index: Path, env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run([str(Path(sys.executable).parent / "tracuu"), "index", "--corpus", str(corpus),
                             "--index", str(index)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 3):
        raise RuntimeError(result.stderr[-2000:])
    return seconds, result.stdout


def measure(corpus_jsonl: Path, work: Path, models_dir: Path) -> dict:
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "models").exists():
        os.symlink(models_dir.resolve(), home / "models")
    env = {**os.environ, "TRACUU_HOME": str(home)}
    corpus = work / "corpus"
    documents = write_corpus(corpus_jsonl, corpus)
    full_s, full_out = _index(corpus, work / "index", env)
    files = sorted(corpus.glob("*.txt"))
    victim = files[len(files) // 2]
    victim.write_text(victim.read_text(encoding="utf-8") + "\nKhoản bổ sung: văn bản này được sửa đổi để đo lập chỉ mục tăng dần.\n",
                      encoding="utf-8")
    inc_s, inc_out = _index(corpus, work / "index", env)
    return {
        "documents": documents,
        "full_rebuild_s": round(full_s, 1),
        "incremental_s": round(inc_s, 1),
        "ratio": round(inc_s / full_s, 4),
        "full_summary": full_out.strip().splitlines(),
        "incremental_summary": inc_out.strip().splitlines(),
        "changed_file": victim.name,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-jsonl", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings()
    corpus = args.corpus_jsonl or settings.benchmarks / "alqac-legal" / "corpus.jsonl"
    work = args.work or Path(tempfile.mkdtemp(prefix="tracuu-incremental-"))
    print(json.dumps(measure(corpus, work, settings.models_dir), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
