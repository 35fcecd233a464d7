"""Indexes built for evaluation, cached under `$TRACUU_HOME/eval-index/<name>-<key>`.

The key is a hash of everything the index depends on: the corpus bytes, the model identity, the
indexing settings and the indexer's own source code (an edit to the tokenizer or the splitter must not
be measured against a stale index). A folder is reused only if its build finished (a marker file is
written last); an unchanged corpus is therefore neither re-embedded (the embedding cache) nor rebuilt.
Folders of the same set with another key are deleted once unused for a day.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

import indexer
import tracuu.core
from indexer.documents import file_sha256 as file_digest  # noqa: F401 - eval.beir and eval.gold import it from here
from tracuu.core.store import read_manifest

MARKER = "eval-index.json"
EVAL_INDEX_FORMAT = 1
PRUNE_AFTER = 24 * 3600  # seconds: an unused stale eval index is deleted after a day


class EvalError(ValueError):
    """Evaluation cannot run (missing or malformed input); the message says what is wrong."""


@dataclass
class IndexInfo:
    index_dir: Path
    reused: bool
    documents: int
    passages: int
    embedded: int  # texts that went through the model in this build (0 when reused)
    skipped: int  # records or files left out (empty text, duplicate id, unreadable)
    seconds: float  # time spent building (0 when reused)

    def to_json(self) -> dict:
        return {**asdict(self), "index_dir": str(self.index_dir)}


def code_fingerprint() -> str:
    """Hash of the source files that decide what an index holds: the indexer and the shared core (text
    normalization, references, the index format). The encoders are keyed separately (vectors_id)."""
    digest = hashlib.sha256()
    folders = (Path(indexer.__file__).parent, Path(tracuu.core.__file__).parent)
    for path in sorted(p for folder in folders for p in folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def index_key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]


def settings_fingerprint(**settings) -> str:
    settings = {**settings, "eval_index_format": EVAL_INDEX_FORMAT, "code": code_fingerprint()}
    return json.dumps(settings, sort_keys=True)


def cached_index(index_dir: Path, key: str, build: Callable[[], dict]) -> IndexInfo:
    """Reuse index_dir if a finished build with this key is there; otherwise build() → dict with
    documents, passages, embedded, skipped."""
    marker = index_dir / MARKER
    try:
        stored = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = None
    if stored and stored.get("key") == key and read_manifest(index_dir) is not None:
        os.utime(marker)  # "last used": pruning keeps it
        return IndexInfo(index_dir, True, stored["documents"], stored["passages"], 0, stored["skipped"], 0.0)
    marker.unlink(missing_ok=True)
    started = time.perf_counter()
    stats = build()
    info = IndexInfo(index_dir, False, stats["documents"], stats["passages"], stats["embedded"], stats["skipped"],
                     time.perf_counter() - started)
    staging = marker.with_suffix(f".tmp-{os.getpid()}")
    staging.write_text(json.dumps({"key": key, **stats}, ensure_ascii=False), encoding="utf-8")
    os.replace(staging, marker)
    prune_siblings(index_dir)
    return info


def prune_siblings(index_dir: Path, max_age: float = PRUNE_AFTER) -> None:
    """Delete other indexes of the same set (`<name>-<other key>`) not used for max_age seconds: they were
    built from an older corpus, model or indexer and will not be reused."""
    name = index_dir.name.rsplit("-", 1)[0]
    for sibling in index_dir.parent.glob(f"{name}-*"):
        if sibling == index_dir or sibling.name.rsplit("-", 1)[0] != name or not sibling.is_dir():
            continue
        marker = sibling / MARKER
        used = marker.stat().st_mtime if marker.exists() else sibling.stat().st_mtime
        if time.time() - used > max_age:
            shutil.rmtree(sibling, ignore_errors=True)


def describe(info: IndexInfo) -> str:
    """One line for stderr about the index used."""
    if info.reused:
        return (f"Dùng chỉ mục có sẵn ({info.documents} tài liệu, {info.passages} đoạn; không nhúng, không lập lại) "
                f"→ {info.index_dir}")
    return (f"Đã lập chỉ mục {info.documents} tài liệu, {info.passages} đoạn ({info.embedded} đoạn/câu nhúng mới) "
            f"trong {info.seconds:.1f} s → {info.index_dir}")


@contextmanager
def progress_bar(console: Console, label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on console; yields update(done, total)."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update
