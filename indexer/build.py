"""Build an index version from a corpus folder: read → clean → passages → embed (cached) → store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer import store
from indexer.documents import Skipped, read_corpus
from indexer.embedder import EmbeddingCache, Encoder, text_key
from indexer.lexical import LexicalIndex


@dataclass
class BuildReport:
    documents: int = 0
    passages: int = 0
    embedded: int = 0  # passages that went through the model (the rest came from the cache)
    dropped_lines: dict[str, int] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    version: str = ""


def embedding_text(title: str, section: str | None, text: str) -> str:
    """What the encoder sees for a passage: its own text with the article title (and heading) as context."""
    context = " — ".join(part for part in (title, section) if part)
    return f"{context}\n{text}" if context else text


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    encoder: Encoder,
    cache: EmbeddingCache,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> BuildReport:
    """on_progress(stage, done, total) is called as passages are embedded."""
    started = time.perf_counter()
    report = BuildReport()
    with store.build_lock(index_dir):
        documents, report.skipped = read_corpus(corpus_dir)
        if not documents:
            raise ValueError(f"Không có tài liệu nào đọc được trong {corpus_dir}.")
        titles = {d.doc_id: d.title for d in documents}
        passages = [p for d in documents for p in d.passages]
        texts = [embedding_text(titles[p.doc_id], p.section, p.text) for p in passages]
        keys = [text_key(t) for t in texts]

        known = cache.get_many(encoder.model_id, keys)
        missing = sorted({k: i for i, k in enumerate(keys) if k not in known}.items(), key=lambda kv: kv[1])
        report.embedded = len(missing)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if on_progress:
                on_progress("embed", done, len(missing))

        if missing:
            fresh = encoder.encode_passages([texts[i] for _, i in missing], on_batch=advance)
            new = {key: fresh[j] for j, (key, _) in enumerate(missing)}
            cache.put_many(encoder.model_id, new)
            known.update(new)
        vectors = np.stack([known[k] for k in keys]).astype(np.float32)

        manifest = {
            "model": {"name": encoder.name, "id": encoder.model_id, "dimension": encoder.dim},
            "corpus": {"dir": str(corpus_dir.resolve()), "files": {d.source: d.sha256 for d in documents}},
            "documents": len(documents),
            "skipped": [{"source": s.source, "reason": s.reason} for s in report.skipped],
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        if on_progress:
            on_progress("lexical", 0, 1)
        lexical = LexicalIndex.build(texts)
        version = store.write_version(index_dir, documents, vectors, lexical, manifest)

    report.documents = len(documents)
    report.passages = len(passages)
    for d in documents:
        for kind, n in d.dropped.items():
            report.dropped_lines[kind] = report.dropped_lines.get(kind, 0) + n
    report.version = version.name
    report.seconds = time.perf_counter() - started
    return report
