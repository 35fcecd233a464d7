"""A read-only view of one published version in the PostgreSQL store, with the same methods as the
embedded `tracuu.core.store.IndexReader`, so fusion, ranker, answers, pages and API run unchanged.

Each query asks every shard for its own top k on each side, in one statement: a UNION ALL of one
ORDER BY … LIMIT k per foreign partition, which postgres_fdw sends whole to its shard (`extensions
'vector'` lets pgvector's operator go too) and runs on all shards at once (`async_capable`). The
service merges the per-shard lists exactly as one list would be ordered (score, then row).

BM25 is computed in SQL over the postings as bm25s computes it (Lucene idf, k1, b; a repeated query
token counts again), from the global document frequencies held by the coordinator.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import PurePosixPath

import numpy as np
import psycopg

from tracuu.core.dense import N_EXACT
from tracuu.core.diacritics import DiacriticsModel
from tracuu.core.hits import Hits
from tracuu.core.lexical import B, K1
from tracuu.core.pg.schema import StoreUnavailable, connect, shards, table_suffix
from tracuu.core.registry import Registry
from tracuu.core.store import IndexUnavailable, StoredPassage, in_article

DEADLINE_S = 4.5  # a request never waits longer than this on the database (the statement timeout is 4 s)
CONNECTIONS = 4  # threads (each with its own connection) that run statements for one reader
_PASSAGE_COLUMNS = 'p.row, p.id, p.doc_id, p.paragraph, p.part, p.start, p."end", p.text, p.kind, p.section, p.page, p.place'


def shards_of(url: str):
    with connect(url, timeout_ms=2000) as conn:
        return shards(conn)


def unavailable(exc: Exception) -> StoreUnavailable:
    """A database error as the Vietnamese sentence a person sees (with the shard's name when known)."""
    found = re.search(r'server "(shard\d+)"', str(exc))
    if found:
        return StoreUnavailable(f"Máy chủ dữ liệu {found[1]} không trả lời nên chưa tìm được kết quả. "
                                "Hãy thử lại sau ít phút.")
    if isinstance(exc, (psycopg.errors.QueryCanceled, FutureTimeout)):
        return StoreUnavailable("Cơ sở dữ liệu trả lời quá chậm nên chưa tìm được kết quả. Hãy thử lại sau ít phút.")
    return StoreUnavailable("Không kết nối được cơ sở dữ liệu tra cứu. Hãy thử lại sau ít phút.")


class Database:
    """Statements run on a few threads with one connection each, so that a caller can give up after
    DEADLINE_S even when a shard hangs (the thread waits; the caller gets StoreUnavailable)."""

    def __init__(self, url: str):
        self.url = url
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(CONNECTIONS, thread_name_prefix="tracuu-pg")

    def _run(self, statement: str, params) -> list[tuple]:
        conn = getattr(self.local, "conn", None)
        if conn is None or conn.closed:
            conn = self.local.conn = connect(self.url)
        try:
            return conn.execute(statement, params, binary=True).fetchall()  # binary: vectors without text parsing
        except psycopg.OperationalError:
            if conn.broken:
                self.local.conn = None
            raise

    def rows(self, statement: str, params=None) -> list[tuple]:
        try:
            return self.pool.submit(self._run, statement, params).result(timeout=DEADLINE_S)
        except (psycopg.Error, FutureTimeout) as exc:
            raise unavailable(exc) from None

    def close(self) -> None:
        self.pool.shutdown(wait=False)


class PgReader:
    """One version of the store (the current one when opened); later publishes do not affect it."""

    def __init__(self, url: str):
        self.db = Database(url)
        try:
            found = self.db.rows(
                "SELECT v.version, v.shards, v.passages, v.avgdl, v.manifest, v.registry, v.diacritics "
                "FROM tracuu_versions v JOIN tracuu_current c USING (version)")
        except StoreUnavailable as exc:
            raise IndexUnavailable(f"{exc} ({url})") from None
        if not found:
            raise IndexUnavailable(f"Chưa có chỉ mục trong {url}. Hãy chạy: tracuu index --store {url}")
        name, self.n_shards, self.size, self.avgdl, self.manifest, registry, diacritics = found[0]
        self.version = PurePosixPath(name)  # .name, like the embedded store's version folder
        self.v = table_suffix(name)
        self.registry = Registry.from_json(registry)
        self.diacritics = DiacriticsModel.from_json(diacritics).with_questions() if diacritics else None
        self.dense = PgDense(self)
        self.lexical = PgLexical(self)
        self.unit_vectors = PgUnitVectors(self)
        # A version never changes, so what was read once is kept (bounded): the candidates of one
        # question are often those of the next, and each statement through the coordinator costs ~1 ms.
        self.cached_passages = Memo(50_000)
        self.cached_units = Memo(50_000)
        self.cached_texts = Memo(2_000)

    def per_shard(self, table: str, select: str) -> str:
        """One statement: `select` (with {t} for the table, {i} for the shard's number) on every shard's
        partition, in parallel."""
        return " UNION ALL ".join(f"({select.format(t=f'{table}_{self.v}_s{i}', i=i)})"
                                  for i in range(1, self.n_shards + 1))

    # ---- the methods of tracuu.core.store.IndexReader ----

    def passages(self, rows: list[int]) -> list[StoredPassage]:
        missing = self.cached_passages.missing(rows)
        if missing:
            self.cached_passages.update({r[0]: StoredPassage(*r) for r in self.db.rows(
                f"SELECT {_PASSAGE_COLUMNS}, d.title, d.source FROM passages_{self.v} p "
                f"JOIN documents_{self.v} d USING (doc_id) WHERE p.row = ANY(%s)", (missing,))})
        return self.cached_passages.pick(rows)

    def rows_of(self, passage_ids: list[str]) -> list[int]:
        return [r[0] for r in self.db.rows(f"SELECT row FROM passages_{self.v} WHERE id = ANY(%s) ORDER BY row",
                                           (list(passage_ids),))]

    def rows_of_documents(self, doc_ids: list[str]) -> list[int]:
        return [r[0] for r in self.db.rows(f"SELECT row FROM passages_{self.v} WHERE doc_id = ANY(%s) ORDER BY row",
                                           (list(doc_ids),))]

    def rows_of_article(self, doc_ids: list[str], article: str) -> list[int]:
        rows = self.db.rows(f"SELECT row, place FROM passages_{self.v} WHERE doc_id = ANY(%s) AND place LIKE %s "
                            "ORDER BY row", (list(doc_ids), f"%Điều {article}%"))
        return in_article(rows, article)

    def unit_spans(self, rows: list[int]) -> dict[int, list[tuple[int, int, int]]]:
        found: dict[int, list[tuple[int, int, int]]] = {r: [] for r in rows}
        if rows:
            for unit, passage, start, end in self.db.rows(
                    f'SELECT row, passage_row, start, "end" FROM units_{self.v} WHERE passage_row = ANY(%s) ORDER BY row',
                    (list(rows),)):
                found[passage].append((unit, start, end))
        return found

    def units(self, passage_row: int) -> tuple[list[tuple[int, int]], np.ndarray]:
        if passage_row not in self.cached_units:
            rows = self.db.rows(f'SELECT start, "end", embedding FROM units_{self.v} WHERE passage_row = %s ORDER BY row',
                                (passage_row,))
            self.cached_units.update({passage_row: ([(start, end) for start, end, _ in rows], stacked([r[2] for r in rows]))})
        return self.cached_units.pick([passage_row])[0]

    def unit_scores(self, units: list[int], vector: np.ndarray) -> np.ndarray:
        """Cosines of these answer units with the query vector, computed on the shards: an aggregate is
        the one expression postgres_fdw sends to them, so only the scores come back, not the vectors."""
        if not units:
            return np.zeros(0, dtype=np.float32)
        statement = self.per_shard("units", "SELECT row, max(-(embedding <#> %(q)s)) FROM {t} WHERE row = ANY(%(u)s) "
                                            "GROUP BY row")
        found = dict(self.db.rows(statement, {"q": np.asarray(vector, dtype=np.float32), "u": [int(u) for u in units]}))
        return np.array([found[int(u)] for u in units], dtype=np.float32)

    def document_text(self, doc_id: str) -> str:
        if doc_id not in self.cached_texts:
            found = self.db.rows(f"SELECT text FROM documents_{self.v} WHERE doc_id = %s", (doc_id,))
            self.cached_texts.update({doc_id: found[0][0]})
        return self.cached_texts.pick([doc_id])[0]

    def document(self, doc_id: str) -> dict | None:
        found = self.db.rows(f"SELECT doc_id, source, title, byline, text, kind, date FROM documents_{self.v} "
                             "WHERE doc_id = %s", (doc_id,))
        if not found:
            return None
        rows = [r[0] for r in self.db.rows(f"SELECT row FROM passages_{self.v} WHERE doc_id = %s ORDER BY row", (doc_id,))]
        keys = ("doc_id", "source", "title", "byline", "text", "kind", "date")
        return {**dict(zip(keys, found[0])), "passages": self.passages(rows)}

    def document_info(self, doc_ids: list[str]) -> dict[str, dict]:
        if not doc_ids:
            return {}
        rows = self.db.rows(f"SELECT doc_id, title, date, byline FROM documents_{self.v} WHERE doc_id = ANY(%s)",
                            (list(doc_ids),))
        return {r[0]: {"title": r[1], "date": r[2], "byline": r[3]} for r in rows}

    def documents(self) -> list[tuple[str, str, str]]:
        return [tuple(r) for r in self.db.rows(f"SELECT doc_id, title, source FROM documents_{self.v} ORDER BY doc_id")]

    def health(self) -> dict:
        """The store and each shard: its passages of this version, or "down"."""
        try:
            servers = shards_of(self.db.url)
        except psycopg.Error as exc:
            raise unavailable(exc) from None
        listed = []
        for shard in servers:
            try:
                count = self.db.rows(f"SELECT count(*) FROM passages_{self.v}_s{shard.number}")[0][0]
                listed.append({"name": shard.name, "passages": count, "status": "up"})
            except StoreUnavailable:
                listed.append({"name": shard.name, "passages": None, "status": "down"})
        return {"store": "postgresql", "shards": listed}


class PgDense:
    """The dense side: pgvector inner product (vectors are normalized: inner product = cosine)."""

    def __init__(self, reader: PgReader):
        self.reader = reader

    @property
    def size(self) -> int:
        return self.reader.size

    def search(self, vector: np.ndarray, k: int) -> Hits:
        k = min(k, self.size)
        if k <= 0:
            return Hits.empty()
        if self.reader.size / self.reader.n_shards <= N_EXACT:  # as published: no HNSW index, exact search
            # As an aggregate, the distance is computed on the shard and only (row, distance) comes back;
            # the plain ORDER BY form fetches every candidate's vector and took ~4x longer.
            select = "SELECT row, max(embedding <#> %(q)s) AS d FROM {t} GROUP BY row ORDER BY d, row LIMIT %(k)s"
        else:  # the form pgvector's HNSW index answers
            select = "SELECT row, embedding <#> %(q)s AS d FROM {t} ORDER BY embedding <#> %(q)s LIMIT %(k)s"
        statement = self.reader.per_shard("passages", select)
        found = self.reader.db.rows(statement, {"q": np.asarray(vector, dtype=np.float32), "k": k})
        return merged(found, k, negate=True)

    def vectors(self, rows) -> np.ndarray:
        found = dict(self.reader.db.rows(f"SELECT row, embedding FROM passages_{self.reader.v} WHERE row = ANY(%s)",
                                         ([int(r) for r in rows],)))
        return stacked([found[int(r)] for r in rows])

    def scores_of(self, vector: np.ndarray, rows) -> np.ndarray:
        rows = [int(r) for r in rows]
        statement = self.reader.per_shard("passages", "SELECT row, max(-(embedding <#> %(q)s)) FROM {t} "
                                                      "WHERE row = ANY(%(rows)s) GROUP BY row")
        found = dict(self.reader.db.rows(statement, {"q": np.asarray(vector, dtype=np.float32), "rows": rows}))
        return np.array([found.get(r, 0.0) for r in rows], dtype=np.float32)


class PgLexical:
    """The lexical side: BM25 in SQL, equal to tracuu.core.lexical.LexicalIndex's bm25s scores. Each
    shard sums the postings of the query's tokens, ~0.5 µs a posting: its cost grows with the corpus
    (docs/cluster.md: a MaxScore-style bound from the rare tokens never held on real questions at k = 50,
    since their many common words can together add more than the 50th score)."""

    def __init__(self, reader: PgReader):
        self.reader = reader
        self.df: dict[str, int] = {}  # document frequency of tokens seen in queries (0: not in the corpus)

    def frequencies(self, tokens: Sequence[str]) -> dict[str, int]:
        missing = sorted(set(tokens) - self.df.keys())
        if missing:
            found = dict(self.reader.db.rows(f"SELECT token, df FROM terms_{self.reader.v} WHERE token = ANY(%s)",
                                             (missing,)))
            if len(self.df) > 200_000:
                self.df.clear()
            self.df.update({t: found.get(t, 0) for t in missing})
        return {t: self.df[t] for t in tokens}

    def usable(self, tokens: Sequence[str]) -> list[str]:
        df = self.frequencies(tokens)
        return [t for t in tokens if df[t]]

    def known_share(self, tokens: Sequence[str]) -> float:
        return len(self.usable(tokens)) / len(tokens) if tokens else 0.0

    def _weights(self, tokens: Sequence[str]) -> dict:
        """Each distinct usable token with count × idf (Lucene's, as bm25s), and the length terms."""
        usable = self.usable(tokens)
        n = self.reader.size
        counts: dict[str, int] = {}
        for t in usable:
            counts[t] = counts.get(t, 0) + 1
        df = self.frequencies(usable)
        weights = [c * math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t, c in counts.items()]
        avgdl = self.reader.avgdl or 1.0
        return {"t": list(counts), "w": weights, "c0": K1 * (1 - B), "c1": K1 * B / avgdl}

    _SCORE = "sum((%(w)s::float8[])[array_position(%(t)s::text[], token)] * tf / (tf + %(c0)s + %(c1)s * length))"

    def search(self, tokens: Sequence[str], k: int) -> Hits:
        params = self._weights(tokens)
        if not params["t"]:
            return Hits.empty()
        statement = self.reader.per_shard(
            "postings", f"SELECT row, {self._SCORE} AS s FROM {{t}} WHERE token = ANY(%(t)s) "
                        "GROUP BY row ORDER BY s DESC, row LIMIT %(k)s")
        return merged(self.reader.db.rows(statement, {**params, "k": k}), k)

    def scores_of(self, tokens: Sequence[str], rows: Sequence[int]) -> np.ndarray:
        rows = [int(r) for r in rows]
        params = self._weights(tokens)
        if not params["t"] or not rows:
            return np.zeros(len(rows))
        found = dict(self.reader.db.rows(
            f"SELECT row, {self._SCORE} FROM postings_{self.reader.v} WHERE token = ANY(%(t)s) AND row = ANY(%(rows)s) "
            "GROUP BY row", {**params, "rows": rows}))
        return np.array([found.get(r, 0.0) for r in rows], dtype=np.float64)


class PgUnitVectors:
    """`reader.unit_vectors[unit rows]`, as the embedded store's memory-mapped array."""

    def __init__(self, reader: PgReader):
        self.reader = reader

    def __getitem__(self, rows) -> np.ndarray:
        rows = [int(r) for r in rows]
        found = dict(self.reader.db.rows(f"SELECT row, embedding FROM units_{self.reader.v} WHERE row = ANY(%s)", (rows,)))
        return stacked([found[r] for r in rows])


class Memo(dict):
    """A bounded cache of an immutable version's rows: emptied when full (simple, and rarely hit)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def missing(self, keys) -> list:
        return sorted({k for k in keys if k not in self})

    def update(self, found: dict) -> None:
        if len(self) + len(found) > self.size:
            self.clear()
        super().update(found)

    def pick(self, keys) -> list:
        return [self[k] for k in keys if k in self]


def stacked(vectors: list) -> np.ndarray:
    """pgvector values (Vector objects or arrays) as one float32 matrix."""
    rows = [v.to_numpy() if hasattr(v, "to_numpy") else v for v in vectors]
    return np.array(rows, dtype=np.float32).reshape(len(rows), -1)


def merged(found: list[tuple[int, float]], k: int, negate: bool = False) -> Hits:
    """The k best of the shards' lists: by score, then row (as one list over all passages is ordered)."""
    pairs = sorted(((-s if negate else s, r) for r, s in found), key=lambda p: (-p[0], p[1]))[:k]
    return Hits(np.array([r for _, r in pairs], dtype=np.int64), np.array([s for s, _ in pairs], dtype=np.float32))
