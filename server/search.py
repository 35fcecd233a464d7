"""The query side: turn a question into ranked passages with citations."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.embedder import Encoder
from indexer.legal import find_article
from indexer.references import Entry, find_query_references
from indexer.textnorm import nfc
from indexer.store import IndexReader, IndexUnavailable, StoredPassage, current_version, read_manifest
from server.answers import Answer, Calibration, QueryTerms, best_answer
from server.fusion import reciprocal_rank_fusion
from server.ranker import CANDIDATES, LearnedFusion  # CANDIDATES: each retriever's list length before fusion
from tracuu.config import FUSIONS, load_settings

MAX_QUERY_CHARS = 1000
MAX_K = 50
MODES = ("dense", "lexical", "hybrid")
# Fusion weight of the lexical list, scaled by the share of query tokens the corpus knows: an English
# question has few, so the (cross-lingual) dense side leads; accentless Vietnamese has most, and the
# dense model reads accentless text poorly. Chosen on eval/gold.jsonl; see the README's evaluation.
LEXICAL_WEIGHT = 2.0
NO_LEXICAL = "Không có từ nào của câu hỏi xuất hiện trong kho tài liệu: kết quả chỉ dựa trên tìm kiếm ngữ nghĩa."


class BadQuery(ValueError):
    """A query the user must fix; the message is shown to them as is."""


@dataclass
class Hit:
    rank: int
    score: float
    passage: StoredPassage
    answer: Answer | None = None


@dataclass
class SearchResult:
    query: str
    mode: str
    took_ms: float
    hits: list[Hit]
    notice: str | None = None  # said to the user, e.g. when the lexical side had nothing to match
    answerable: bool = False
    confidence: float = 0.0
    references: list[Entry] = field(default_factory=list)  # documents the query names, as registered
    timings: dict[str, float] = field(default_factory=dict)  # stage -> ms


def check_query(query: str, k: int, mode: str = "hybrid") -> str:
    query = nfc(query).strip()
    if not query:
        raise BadQuery("Câu hỏi trống: hãy nhập nội dung cần tìm.")
    if len(query) > MAX_QUERY_CHARS:
        raise BadQuery(f"Câu hỏi dài {len(query)} ký tự, vượt quá giới hạn {MAX_QUERY_CHARS} ký tự.")
    if not 1 <= k <= MAX_K:
        raise BadQuery(f"Số kết quả k phải từ 1 đến {MAX_K} (nhận được {k}).")
    if mode not in MODES:
        raise BadQuery(f"Chế độ '{mode}' không hợp lệ; chọn một trong: {', '.join(MODES)}.")
    return query


def needs_vector(mode: str, answers: bool) -> bool:
    """Whether a search needs the query embedding (dense retrieval, or scoring answer sentences)."""
    return mode != "lexical" or answers


def check_model(index_dir: Path, model_name: str) -> None:
    """Refuse, before loading anything heavy, an index built with another model."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        IndexReader(index_dir)  # raises the precise "missing" or "corrupt" message
    built_with = manifest["model"]["name"]
    if built_with != model_name:
        raise IndexUnavailable(
            f"Chỉ mục ở {index_dir} được lập bằng mô hình '{built_with}', nhưng máy chủ đang cấu hình mô hình "
            f"'{model_name}'. Hãy chạy: tracuu index --index {index_dir} (với TRACUU_MODEL={model_name})"
        )


class Searcher:
    def __init__(self, index_dir: Path, encoder: Encoder, fusion: str | None = None):
        """fusion: how hybrid mode combines its lists, "learned" or "rrf" (default: TRACUU_FUSION)."""
        self.index_dir = index_dir
        self.encoder = encoder
        self.calibration = Calibration.load()
        fusion = fusion or load_settings().fusion
        if fusion not in FUSIONS:
            raise ValueError(f"Cách kết hợp '{fusion}' (TRACUU_FUSION) không hợp lệ; chọn một trong: {', '.join(FUSIONS)}.")
        self.fusion = fusion
        # The learned ranker, or None for weighted RRF; evaluation may swap it (eval/train_ranker.py).
        self.ranker: LearnedFusion | None = LearnedFusion.load() if fusion == "learned" else None
        self.reader = self._open()

    def _open(self) -> IndexReader:
        reader = IndexReader(self.index_dir)
        built_with = reader.manifest["model"]["id"]
        if built_with != self.encoder.model_id:
            raise IndexUnavailable(
                f"Chỉ mục được lập bằng '{built_with}', mô hình hiện tại là '{self.encoder.model_id}'. "
                f"Hãy chạy: tracuu index --index {self.index_dir}"
            )
        return reader

    def reload_if_changed(self) -> bool:
        """Switch to a newer index version if a build made one current. Requests in flight keep the
        reader they started with; a version that fails to open is ignored and the old one keeps serving."""
        if current_version(self.index_dir) in (None, self.reader.version):
            return False
        try:
            fresh = self._open()
        except IndexUnavailable:
            return False
        self.reader = fresh  # one attribute assignment: atomic for concurrent readers
        return True

    def warm_up(self) -> None:
        """Load what the first query would otherwise load (pyvi's model, torch kernels)."""
        self.search("khởi động tra cứu", k=1)

    def search(
        self, query: str, k: int = 5, mode: str = "hybrid", answers: bool = True, limit_check: bool = True,
        vector: np.ndarray | None = None,
    ) -> SearchResult:
        """Ranked passages; with answers, each carries its best answer sentence and the result says
        whether the corpus seems to answer the question at all. limit_check=False lets internal callers
        (evaluation) ask for more than MAX_K passages. `vector` is the query's embedding when the caller
        already has it (the server encodes concurrent queries in batches)."""
        started = time.perf_counter()
        query = check_query(query, k if limit_check else min(k, MAX_K), mode)
        reader = self.reader  # one version for the whole request, even if a reload swaps it meanwhile
        timings: dict[str, float] = {}
        clock = Stopwatch(timings)
        depth = min(max(k, CANDIDATES), reader.size)
        notice = None
        if vector is None and needs_vector(mode, answers):
            vector = self.encoder.encode_queries([query])[0]
            clock("encode")
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if mode in ("dense", "hybrid"):
            scores, rows = reader.dense.search(np.ascontiguousarray(vector[None, :]), depth)
            dense = [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]
            clock("dense")
        if mode in ("lexical", "hybrid"):
            rows, scores = reader.lexical.search(query, depth)
            lexical = list(zip(rows.tolist(), scores.tolist()))
            clock("lexical")
            if not lexical:
                notice = NO_LEXICAL if mode == "hybrid" else NO_LEXICAL.split(":")[0] + "."
        if mode == "hybrid" and lexical:
            known = reader.lexical.known_share(query)
            weight = LEXICAL_WEIGHT * known
            ranked = reciprocal_rank_fusion([[r for r, _ in dense], [r for r, _ in lexical]], [1.0, weight])
            if self.ranker is not None:
                ranked = self.ranker.rank(reader, query, vector, dense, lexical, weight, known, ranked)
        else:
            ranked = dense or lexical
        clock("fusion")
        references = reader.registry.resolve_query(query)
        # Only numbered documents take the fast path: a law named by its title ("Luật Du lịch") is
        # cited mostly by its own closing articles, which would push the asked-about article down.
        numbered = [e for e in references if e.number]
        if numbered:
            ranked = self._cited_first(reader, query, vector, mode, numbered, ranked)
            article = find_article(query)
            if article:
                ranked = _article_first(reader, article, numbered, ranked)
            clock("references")
        ranked = ranked[:k]
        passages = reader.passages([r for r, _ in ranked])
        hits = [Hit(rank=i + 1, score=s, passage=p) for i, ((_, s), p) in enumerate(zip(ranked, passages))]
        result = SearchResult(query=query, mode=mode, took_ms=0.0, hits=hits, notice=notice, timings=timings,
                              references=references)
        if answers and vector is not None:
            self._answer(reader, result, vector, [r for r, _ in ranked])
            clock("answers")
        result.took_ms = (time.perf_counter() - started) * 1000
        return result

    def _cited_first(
        self, reader: IndexReader, query: str, vector: np.ndarray | None, mode: str, references: list[Entry], ranked: list[tuple[int, float]]
    ) -> list[tuple[int, float]]:
        """The fast path: passages citing a document the query names come first, ordered among themselves
        by the rest of the query (the words around the reference)."""
        cited = reader.rows_of(sorted({pid for e in references for pid in e.passages}))
        rest = _without_references(query)
        orders = []
        if vector is not None and mode != "lexical":
            sims = reader.dense.reconstruct_batch(np.array(cited, dtype=np.int64)) @ vector
            orders.append([cited[i] for i in np.argsort(-sims, kind="stable")])
        tokens = reader.lexical.usable_tokens(rest)
        if tokens and mode != "dense":
            scores = reader.lexical.bm25.get_scores(tokens)[cited]
            orders.append([cited[i] for i in np.argsort(-scores, kind="stable")])
        first = reciprocal_rank_fusion(orders) if orders else [(r, 0.0) for r in cited]
        # Keep scores comparable: cited passages sit above everything else.
        top = max((s for _, s in ranked), default=0.0)
        boosted = [(row, top + 1.0 + score) for row, score in first]
        chosen = {row for row, _ in first}
        return boosted + [(row, score) for row, score in ranked if row not in chosen]

    def _answer(self, reader: IndexReader, result: SearchResult, vector: np.ndarray, rows: list[int]) -> None:
        terms = QueryTerms(_without_references(result.query) if result.references else result.query)
        texts: dict[str, str] = {}
        for hit, row in zip(result.hits, rows):
            doc_id = hit.passage.doc_id
            if doc_id not in texts:
                texts[doc_id] = reader.document_text(doc_id)
            spans, vectors = reader.units(row)
            span = (hit.passage.start, hit.passage.end)
            hit.answer = best_answer(vector, terms, texts[doc_id], span, spans, vectors)
        answers = [h.answer for h in result.hits if h.answer]
        if result.references:  # the named document is in the corpus: its citing passages answer
            result.confidence, result.answerable = 1.0, True
        elif answers:
            result.confidence = max(self.calibration.confidence(a) for a in answers)
            result.answerable = result.confidence >= 0.5


def _article_first(
    reader: IndexReader, article: str, references: list[Entry], ranked: list[tuple[int, float]]
) -> list[tuple[int, float]]:
    """"Điều 5 Quy định 58": the passages of article 5 in the documents that cite (or are) Quy định 58."""
    docs = sorted({d for e in references for d in e.docs})
    rows = reader.rows_of_article(docs, article)
    if not rows:
        return ranked
    top = max((s for _, s in ranked), default=0.0)
    first = [(row, top + 1.0 - i * 1e-6) for i, row in enumerate(rows)]
    chosen = set(rows)
    return first + [(row, s) for row, s in ranked if row not in chosen]


def _without_references(query: str) -> str:
    """The query with the document references cut out: "Quy định 58 ban hành ngày nào?" -> "ban hành ngày nào?"."""
    pieces, last = [], 0
    for ref in find_query_references(query):
        pieces.append(query[last:ref.start])
        last = ref.end
    pieces.append(query[last:])
    return " ".join(" ".join(pieces).split())


class Stopwatch:
    """Records the time since the previous call under a stage name."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings
        self.last = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round((now - self.last) * 1000, 3)
        self.last = now
