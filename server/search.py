"""The query side: turn a question into ranked passages with citations."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.embedder import Encoder
from indexer.textnorm import nfc
from server.fusion import reciprocal_rank_fusion
from indexer.store import IndexReader, IndexUnavailable, StoredPassage, read_manifest

MAX_QUERY_CHARS = 1000
MAX_K = 50
MODES = ("dense", "lexical", "hybrid")
CANDIDATES = 50  # each retriever's list length before fusion
NO_LEXICAL = "Không có từ nào của câu hỏi xuất hiện trong kho tài liệu: kết quả chỉ dựa trên tìm kiếm ngữ nghĩa."


class BadQuery(ValueError):
    """A query the user must fix; the message is shown to them as is."""


@dataclass
class Hit:
    rank: int
    score: float
    passage: StoredPassage


@dataclass
class SearchResult:
    query: str
    mode: str
    took_ms: float
    hits: list[Hit]
    notice: str | None = None  # said to the user, e.g. when the lexical side had nothing to match


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
    def __init__(self, index_dir: Path, encoder: Encoder):
        self.index_dir = index_dir
        self.encoder = encoder
        self.reader = IndexReader(index_dir)
        built_with = self.reader.manifest["model"]["id"]
        if built_with != encoder.model_id:
            raise IndexUnavailable(
                f"Chỉ mục được lập bằng '{built_with}', mô hình hiện tại là '{encoder.model_id}'. "
                f"Hãy chạy: tracuu index --index {index_dir}"
            )

    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> SearchResult:
        started = time.perf_counter()
        query = check_query(query, k, mode)
        depth = min(max(k, CANDIDATES), self.reader.size)
        notice = None
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if mode in ("dense", "hybrid"):
            dense = self._dense(query, depth)
        if mode in ("lexical", "hybrid"):
            rows, scores = self.reader.lexical.search(query, depth)
            lexical = list(zip(rows.tolist(), scores.tolist()))
            if not lexical:
                notice = NO_LEXICAL if mode == "hybrid" else NO_LEXICAL.split(":")[0] + "."
        if mode == "hybrid" and lexical:
            ranked = reciprocal_rank_fusion([[r for r, _ in dense], [r for r, _ in lexical]])
        else:
            ranked = dense or lexical
        ranked = ranked[:k]
        passages = self.reader.passages([r for r, _ in ranked])
        hits = [Hit(rank=i + 1, score=s, passage=p) for i, ((_, s), p) in enumerate(zip(ranked, passages))]
        took = (time.perf_counter() - started) * 1000
        return SearchResult(query=query, mode=mode, took_ms=took, hits=hits, notice=notice)

    def _dense(self, query: str, depth: int) -> list[tuple[int, float]]:
        vector = self.encoder.encode_queries([query])
        scores, rows = self.reader.dense.search(np.ascontiguousarray(vector), depth)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]
