"""The query side: turn a question into ranked passages with citations.

One request: the question is parsed once (`Query`), encoded once, looked up on each side the mode
uses, fused (weighted RRF, then the learned ranker in hybrid mode), passed through the regulation fast
path, and the top passages get their answer sentences.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from server.answers import Answer, Calibration, answer_hits
from server.fusion import Ranked, reciprocal_rank_fusion
from server.live_index import LiveIndex
from server.ranker import CANDIDATES, LearnedFusion
from server.regulations import numbered_entries, regulation_first
from tracuu.core.hits import Hits
from tracuu.core.query import BadQuery, Query
from tracuu.core.registry import Entry
from tracuu.core.store import IndexReader, StoredPassage

MAX_K = 50
MODES = ("dense", "lexical", "hybrid")
FUSIONS = ("learned", "rrf")
# Fusion weight of the lexical list, scaled by the share of query tokens the corpus knows: an English
# question has few, so the (cross-lingual) dense side leads; accentless Vietnamese has most, and the
# dense model reads accentless text poorly. Chosen on eval/gold.jsonl (docs/evaluation.md).
LEXICAL_WEIGHT = 2.0
NO_LEXICAL = "Không có từ nào của câu hỏi xuất hiện trong kho tài liệu: kết quả chỉ dựa trên tìm kiếm ngữ nghĩa."
ENGLISH = "Câu hỏi viết bằng tiếng Anh: kết quả chỉ dựa trên tìm kiếm ngữ nghĩa (đa ngôn ngữ)."


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
    restored_query: str | None = None  # the question with diacritics restored, as the dense side read it
    # "en" for an English question: the answerable signal counts the question's words in the passage, so it
    # cannot judge one; the page shows the nearest sentence without a confidence.
    language: str = "vi"


def check_request(q: str, k: int, mode: str = "hybrid") -> Query:
    """A search's validation where k is already an int (the CLI, the Searcher): the parsed query, or
    BadQuery. Requests from the web go through server/params.py, which adds the raw-value checks."""
    query = Query.parse(q)
    check_options(k, mode)
    return query


def check_options(k: int, mode: str) -> None:
    if not 1 <= k <= MAX_K:
        raise BadQuery(f"Số kết quả k phải từ 1 đến {MAX_K} (nhận được {k}).")
    if mode not in MODES:
        raise BadQuery(f"Chế độ '{mode}' không hợp lệ; chọn một trong: {', '.join(MODES)}.")


def needs_vector(mode: str, answers: bool) -> bool:
    """Whether a search needs the query embedding (dense retrieval, or scoring answer sentences)."""
    return mode != "lexical" or answers


def rest_text(query: Query, mode: str) -> str | None:
    """What to embed, besides the question, to order the passages of a document it names (the regulation
    fast path): the question without its references, or None when there is nothing else to embed (no
    reference, nothing around it, or lexical mode). Call after `Searcher.prepare(query)`."""
    rest = query.rest
    if mode == "lexical" or rest is query or not any(c.isalnum() for c in rest.text):
        return None
    return rest.embedding_text


def load_ranker(fusion: str) -> LearnedFusion | None:
    """The hybrid-mode ranker for a TRACUU_FUSION value: the shipped LightGBM model, or None for RRF."""
    if fusion not in FUSIONS:
        raise ValueError(f"Cách kết hợp '{fusion}' (TRACUU_FUSION) không hợp lệ; chọn một trong: {', '.join(FUSIONS)}.")
    return LearnedFusion.load() if fusion == "learned" else None


class Searcher:
    """Answers questions from a live index. Everything it uses is given: the encoder, the hybrid ranker
    (None: weighted RRF) and the answerable calibration."""

    def __init__(self, index: LiveIndex | Path | str, encoder, ranker: LearnedFusion | None = None,
                 calibration: Calibration | None = None, restore: bool = True):
        """restore: put diacritics back into accentless questions before embedding them."""
        self.index = index if isinstance(index, LiveIndex) else LiveIndex(index, encoder.model_id)
        self.encoder = encoder
        self.ranker = ranker
        self.calibration = calibration or Calibration()
        self.restore = restore

    @property
    def reader(self) -> IndexReader:
        return self.index.reader

    def with_ranker(self, ranker) -> "Searcher":
        """The same index and encoder with another hybrid ranker (evaluation compares rankers)."""
        twin = object.__new__(Searcher)
        twin.__dict__.update(self.__dict__, ranker=ranker)
        return twin

    def prepare(self, query: Query, reader: IndexReader | None = None) -> Query:
        """Restore the diacritics of an accentless question (once), so that `query.embedding_text` is
        what the encoder should read; and those of the question without its references, if it names
        documents (what orders their passages). The server calls this before encoding off the search
        thread."""
        reader = reader or self.reader
        if self.restore and not query.restore_checked and reader.diacritics is not None:
            restored = reader.diacritics.restore(query.text)
            query.restored = restored if restored != query.text else None
            query.restore_checked = True
        if query.rest is not query:
            self.prepare(query.rest, reader)
        return query

    def rest_vector(self, query: Query, mode: str, vector: np.ndarray | None) -> np.ndarray | None:
        """The embedding of the question without its references; the question's own when nothing is
        around them."""
        text = rest_text(query, mode)
        return vector if text is None else self.encoder.encode_queries([text])[0]

    def warm_up(self) -> None:
        """Load what the first query would otherwise load (pyvi's model, kernels)."""
        self.search("khởi động tra cứu", k=1)

    def search(
        self, query: str | Query, k: int = 5, mode: str = "hybrid", answers: bool = True,
        limit_check: bool = True, vector: np.ndarray | None = None, rest_vector: np.ndarray | None = None,
    ) -> SearchResult:
        """Ranked passages; with answers, each carries its best answer sentence and the result says
        whether the corpus seems to answer the question at all. limit_check=False lets evaluation ask
        for more than MAX_K passages. `vector` is the query's embedding when the caller already has it
        (the server encodes queries off the event loop); `rest_vector` that of `rest_text(query, mode)`."""
        started = time.perf_counter()
        checked_k = k if limit_check else min(k, MAX_K)
        if isinstance(query, Query):
            check_options(checked_k, mode)
        else:
            query = check_request(query, checked_k, mode)
        reader = self.reader  # one version for the whole request, even if a reload swaps it meanwhile
        timings: dict[str, float] = {}
        clock = Stopwatch(timings)
        self.prepare(query, reader)
        if vector is None and needs_vector(mode, answers):
            vector = self.encoder.encode_queries([query.embedding_text])[0]
            clock("encode")
        ranked, notice = self._rank(reader, query, vector, mode, max(k, CANDIDATES), clock)
        references, numbered = numbered_entries(reader, query)
        if numbered:
            if rest_vector is None:
                rest_vector = self.rest_vector(query, mode, vector)
            ranked = regulation_first(reader, query, rest_vector, mode, numbered, ranked)
            clock("references")
        ranked = ranked[:k]
        passages = reader.passages([r for r, _ in ranked])
        hits = [Hit(rank=i + 1, score=s, passage=p) for i, ((_, s), p) in enumerate(zip(ranked, passages))]
        result = SearchResult(query=query.text, mode=mode, took_ms=0.0, hits=hits, notice=notice, timings=timings,
                              references=references, restored_query=query.restored,
                              language="en" if query.english else "vi")
        if answers and vector is not None:
            terms = query.rest if references else query
            result.answerable, result.confidence = answer_hits(
                reader, hits, vector, terms.text, references, self.calibration)
            clock("answers")
        result.took_ms = (time.perf_counter() - started) * 1000
        return result

    def _rank(self, reader: IndexReader, query: Query, vector: np.ndarray | None, mode: str, depth: int,
              clock: "Stopwatch") -> tuple[Ranked, str | None]:
        """Each side's top `depth`, fused: weighted RRF, reordered by the learned ranker if there is one."""
        depth = min(depth, reader.size)
        dense = lexical = Hits.empty()
        notice = None
        if mode in ("dense", "hybrid"):
            dense = reader.dense.search(vector, depth)
            clock("dense")
        # Matching an English question's words against Vietnamese text finds only chance look-alikes
        # ("the", "to"): hybrid mode reads it with the multilingual dense side alone (docs/quality.md, step 16).
        if mode == "lexical" or (mode == "hybrid" and not query.english):
            lexical = reader.lexical.search(query.tokens, depth)
            clock("lexical")
            if not len(lexical):
                notice = NO_LEXICAL if mode == "hybrid" else NO_LEXICAL.split(":")[0] + "."
        elif mode == "hybrid":
            notice = ENGLISH
        if mode != "hybrid" or not len(lexical):
            ranked = (dense if len(dense) else lexical).pairs()
        else:
            known = reader.lexical.known_share(query.tokens)
            weight = LEXICAL_WEIGHT * known
            ranked = reciprocal_rank_fusion([dense.rows.tolist(), lexical.rows.tolist()], [1.0, weight])
            if self.ranker is not None:
                ranked = self.ranker.rank(reader, query, vector, dense, lexical, weight, known, ranked)
        clock("fusion")
        return ranked, notice


class Stopwatch:
    """Records the time since the previous call under a stage name."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings
        self.last = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round((now - self.last) * 1000, 3)
        self.last = now
