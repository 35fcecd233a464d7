"""Build an index version from a corpus folder: read → clean → passages → embed (cached) → store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer import writer
from indexer.documents import Document, Skipped, read_corpus
from indexer.embedding_cache import EmbeddingCache, text_key
from indexer.passages import answer_spans
from indexer.pg.publish import publish
from indexer.token_cache import TokenCache
from tracuu.core.diacritics import DiacriticsModel
from tracuu.core.lexical import LexicalIndex
from tracuu.core.registry import Registry
from tracuu.core.store import IndexReader, read_manifest


CACHE_CHUNK = 256  # texts embedded between two commits to the embedding cache


@dataclass
class BuildReport:
    documents: int = 0
    passages: int = 0
    units: int = 0  # answer units (sentences)
    embedded: int = 0  # texts that went through the model (the rest came from the cache)
    dropped_lines: dict[str, int] = field(default_factory=dict)
    changes: dict[str, list[str]] = field(default_factory=dict)  # added/changed/removed/unchanged sources
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
    encoder,
    cache: EmbeddingCache,
    on_progress: Callable[[str, int, int], None] | None = None,
    store: str | None = None,
) -> BuildReport:
    """Index every readable file of corpus_dir (see indexer.documents.read_corpus); with `store` (a
    postgresql:// URL) the version is also published there."""
    documents, skipped = read_corpus(corpus_dir)
    if not documents:
        raise ValueError(f"Không có tài liệu nào đọc được trong {corpus_dir}.")
    report = build_from_documents(documents, index_dir, encoder, cache, on_progress, source=str(corpus_dir.resolve()),
                                  store=store)
    report.skipped = skipped
    return report


def build_from_documents(
    documents: list[Document],
    index_dir: Path,
    encoder,
    cache: EmbeddingCache,
    on_progress: Callable[[str, int, int], None] | None = None,
    answer_units: bool = True,
    source: str = "",
    store: str | None = None,
) -> BuildReport:
    """on_progress(stage, done, total) is called as texts are embedded. Without answer_units the index
    holds no sentence vectors (evaluation of retrieval alone does not need them). With `store` (a
    postgresql:// URL) the version written to index_dir is then published there (indexer/pg/publish.py)."""
    started = time.perf_counter()
    report = BuildReport()
    with writer.build_lock(index_dir):
        previous = (read_manifest(index_dir) or {}).get("corpus", {}).get("files", {})
        report.changes = compare_files(previous, {d.source: d.sha256 for d in documents})
        titles = {d.doc_id: d.title for d in documents}
        passages = [p for d in documents for p in d.passages]
        texts = [embedding_text(titles[p.doc_id], p.section, p.text) for p in passages]
        documents_by_id = {d.doc_id: d for d in documents}
        unit_spans = [
            (row, start, end)
            for row, p in enumerate(passages)
            for start, end in (answer_spans(p.text, p.start) if answer_units else [])
        ]
        unit_texts = [documents_by_id[passages[row].doc_id].text[s:e] for row, s, e in unit_spans]

        all_vectors, report.embedded = _embed_cached(texts + unit_texts, encoder, cache, on_progress)
        vectors = all_vectors[: len(texts)]
        # A byline is found by its words (BM25), never by meaning: a short name's vector sits close to
        # every accentless query and pushed answers down (docs/evaluation.md). It gets the zero vector.
        vectors[[row for row, p in enumerate(passages) if p.kind == "byline"]] = 0.0
        unit_vectors = all_vectors[len(texts):].reshape(len(unit_spans), encoder.dim)

        manifest = {
            "model": {"name": encoder.name, "id": encoder.model_id, "dimension": encoder.dim,
                      "vectors": encoder.vectors_id},
            "corpus": {"dir": source, "files": {d.source: d.sha256 for d in documents}},
            "documents": len(documents),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        if on_progress:
            on_progress("lexical", 0, 1)
        tokens = TokenCache(cache.path).tokenize(texts)
        lexical = LexicalIndex.build(tokens)
        units = writer.Units(unit_spans, unit_vectors)
        registry = Registry((p.id, p.doc_id, p.text) for p in passages)
        diacritics = DiacriticsModel.count([p.text for p in passages] + [d.title for d in documents])
        version = writer.write_version(index_dir, documents, vectors, lexical, units, registry, manifest, diacritics)
        if store:
            if on_progress:
                on_progress("publish", 0, 1)
            publish(store, IndexReader(index_dir), vectors, unit_vectors, tokens)

    report.documents = len(documents)
    report.units = len(unit_spans)
    report.passages = len(passages)
    for d in documents:
        for kind, n in d.dropped.items():
            report.dropped_lines[kind] = report.dropped_lines.get(kind, 0) + n
    report.version = version.name
    report.seconds = time.perf_counter() - started
    return report


def compare_files(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """Which sources were added, changed, removed or left alone, by content hash."""
    return {
        "added": sorted(after.keys() - before.keys()),
        "changed": sorted(s for s in after.keys() & before.keys() if after[s] != before[s]),
        "removed": sorted(before.keys() - after.keys()),
        "unchanged": sorted(s for s in after.keys() & before.keys() if after[s] == before[s]),
    }


def _embed_cached(
    texts: list[str], encoder, cache: EmbeddingCache, on_progress: Callable[[str, int, int], None] | None
) -> tuple[np.ndarray, int]:
    """Vectors for texts, embedding only those the cache does not hold. Returns (vectors, newly embedded)."""
    keys = [text_key(encoder.prepare(t)) for t in texts]
    known = cache.get_many(encoder.vectors_id, keys)
    first_index = {}
    for i, key in enumerate(keys):
        if key not in known:
            first_index.setdefault(key, i)
    missing = list(first_index.items())
    done = 0
    # Commit to the cache chunk by chunk: a build killed midway keeps what it embedded, and the
    # next run resumes from there.
    for begin in range(0, len(missing), CACHE_CHUNK):
        chunk = missing[begin:begin + CACHE_CHUNK]

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if on_progress:
                on_progress("embed", done, len(missing))

        fresh = encoder.encode_passages([texts[i] for _, i in chunk], on_batch=advance)
        new = {key: fresh[j] for j, (key, _) in enumerate(chunk)}
        cache.put_many(encoder.vectors_id, new)
        known.update(new)
    return np.stack([known[k] for k in keys]).astype(np.float32), len(missing)
