"""Publish a built index version into the PostgreSQL store (tables: tracuu/core/pg/schema.py).

The build writes its version to the local index folder first, as always (that folder is also what
makes a re-index incremental: unchanged texts come from the embedding and token caches); `publish`
then copies it into a new set of tables, passages spread over the shards by PostgreSQL's own hash
partitioning, and switches `tracuu_current` in one statement. Killed before that statement, the
build leaves the previous version serving; its half-written tables are dropped by the next publish.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psycopg

from indexer.token_cache import TokenCache
from indexer.writer import IndexBusy
from tracuu.core.dense import N_EXACT
from tracuu.core.pg.schema import (COORDINATOR_TABLES, FOREIGN_PARTITION, HNSW_INDEX, KEEP_VERSIONS, SHARD_INDEXES,
                                   SHARD_TABLES, SHARDED, Shard, StoreUnavailable, connect, shards, table_suffix,
                                   term_statistics)
from tracuu.core.store import IndexReader

PUBLISH_LOCK = 0x7472_6163  # pg_advisory_lock key: one publish at a time per coordinator ("trac")


def publish(url: str, reader: IndexReader, vectors: np.ndarray, unit_vectors: np.ndarray,
            tokens: Sequence[Sequence[str]]) -> str:
    """Copy the version `reader` holds into the store at `url` and make it current. `vectors` and
    `unit_vectors` are the exact float32 vectors (the embedded dense index may hold 8-bit codes),
    `tokens` each passage's lexical tokens (what bm25s indexed). Returns the version name."""
    version = reader.version.name
    v = table_suffix(version)
    with connect(url, timeout_ms=None) as coord:
        cluster = begin(coord, url)
        if coord.execute("SELECT 1 FROM tracuu_versions WHERE version = %s", (version,)).fetchone():
            finish_again(coord, version)  # already there (the same build published twice): make it current
            return version
        create_tables(coord, cluster, v, vectors.shape[1])
        owner = shard_of_rows(coord, f"passages_{v}", len(cluster), reader.size)
        with ThreadPoolExecutor(len(cluster)) as pool:  # the shards load and index at the same time
            list(pool.map(lambda s: load_shard(s, coord.info.user, v, reader, owner == s.number - 1, vectors,
                                               unit_vectors, tokens), cluster))
        avgdl = load_coordinator(coord, v, reader, tokens)
        finish(coord, cluster, version, reader.size, avgdl, reader.manifest,
               reader.registry.to_json(), reader.diacritics.to_json() if reader.diacritics is not None else None)
    return version


def publish_index(url: str, index_dir: Path, token_cache: Path) -> str:
    """Publish the current version of an index folder that was built earlier (e.g. an evaluation index):
    the vectors come from its files (exact while its dense index is exact, i.e. up to N_EXACT passages),
    the tokens from the token cache (or pyvi again)."""
    from indexer.build import embedding_text  # build imports this module

    reader = IndexReader(index_dir)
    rows = list(range(reader.size))
    passages = reader.passages(rows)
    tokens = TokenCache(token_cache).tokenize([embedding_text(p.title, p.section, p.text) for p in passages])
    return publish(url, reader, reader.dense.vectors(rows), np.asarray(reader.unit_vectors), tokens)


def finish_again(coord: psycopg.Connection, version: str) -> None:
    coord.execute("INSERT INTO tracuu_current (one, version) VALUES (true, %s) "
                  "ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version", (version,))
    coord.execute("SELECT pg_advisory_unlock(%s)", (PUBLISH_LOCK,))


def begin(coord: psycopg.Connection, url: str) -> list[Shard]:
    """Take the publish lock, find the shards, drop what a killed publish left. Returns the shards."""
    if not coord.execute("SELECT pg_try_advisory_lock(%s)", (PUBLISH_LOCK,)).fetchone()[0]:
        raise IndexBusy(f"Một lần lập chỉ mục khác đang ghi vào {url}; hãy đợi nó xong.")
    cluster = shards(coord)
    if not cluster:
        raise StoreUnavailable(f"Cơ sở dữ liệu {url} chưa có shard nào. Hãy chạy: scripts/cluster up")
    drop_unpublished(coord, cluster)
    return cluster


def create_tables(coord: psycopg.Connection, cluster: list[Shard], v: str, dim: int) -> None:
    """A version's tables on every shard, and on the coordinator its partitioned parents."""
    for shard in cluster:
        with connect(shard.url(coord.info.user), timeout_ms=None) as conn:
            conn.execute(SHARD_TABLES.format(v=v, dim=dim))
    coord.execute(COORDINATOR_TABLES.format(v=v, dim=dim))
    for table in SHARDED:
        for shard in cluster:
            coord.execute(FOREIGN_PARTITION.format(table=table, v=v, i=shard.number, n=len(cluster),
                                                   r=shard.number - 1))


def index_shard(conn: psycopg.Connection, v: str, rows: int, hnsw: bool | None = None) -> None:
    """Indexes once the rows are in (faster than maintaining them row by row). hnsw None: as the
    embedded store, exact search while a shard holds at most N_EXACT passages."""
    conn.execute(SHARD_INDEXES.format(v=v))
    if hnsw or (hnsw is None and rows > N_EXACT):
        conn.execute(HNSW_INDEX.format(v=v))
    conn.execute(f"VACUUM ANALYZE passages_{v}, postings_{v}, units_{v}")


def finish(coord: psycopg.Connection, cluster: list[Shard], version: str, passages: int, avgdl: float, manifest: dict,
           registry: str, diacritics: str | None) -> None:
    """Record the version, make it current (one statement: readers see the old or the new one), prune."""
    coord.execute("INSERT INTO tracuu_versions VALUES (%s, %s, %s, %s, %s, %s, %s, now())",
                  (version, len(cluster), passages, avgdl, json.dumps(manifest, ensure_ascii=False), registry,
                   diacritics))
    coord.execute("INSERT INTO tracuu_current (one, version) VALUES (true, %s) "
                  "ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version", (version,))
    prune(coord, cluster)
    coord.execute("SELECT pg_advisory_unlock(%s)", (PUBLISH_LOCK,))


def shard_of_rows(coord: psycopg.Connection, table: str, n_shards: int, n_rows: int) -> np.ndarray:
    """For each passage row, the hash partition (0-based remainder) PostgreSQL routes it to."""
    owner = np.full(n_rows, -1, dtype=np.int64)
    for r in range(n_shards):
        rows = coord.execute(
            "SELECT array_agg(x) FROM generate_series(0, %s) x WHERE satisfies_hash_partition(%s::regclass, %s, %s, x)",
            (n_rows - 1, table, n_shards, r)).fetchone()[0] or []
        owner[rows] = r
    return owner


def load_shard(shard: Shard, user: str, v: str, reader: IndexReader, mine: np.ndarray, vectors: np.ndarray,
               unit_vectors: np.ndarray, tokens: Sequence[Sequence[str]]) -> None:
    """Copy this shard's passages (with vectors), postings and answer units, then index them."""
    rows = np.flatnonzero(mine).tolist()
    with connect(shard.url(user), timeout_ms=None) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY passages_{v} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "text", "text", "int4", "int4", "int4", "int4", "text", "text", "text", "int4",
                            "text", "vector"])
            for begin in range(0, len(rows), 2000):
                chunk = rows[begin:begin + 2000]
                for p in reader.passages(chunk):
                    copy.write_row((p.row, p.id, p.doc_id, p.paragraph, p.part, p.start, p.end, p.text, p.kind,
                                    p.section, p.page, p.place, vectors[p.row]))
        with cur.copy(f"COPY postings_{v} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "int4", "int4", "int4"])
            for row in rows:
                length = len(tokens[row])
                for token, tf in Counter(tokens[row]).items():
                    copy.write_row((token, row, tf, length))
        with cur.copy(f"COPY units_{v} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "int4", "int4", "int4", "vector"])
            for begin in range(0, len(rows), 2000):
                for row, spans in reader.unit_spans(rows[begin:begin + 2000]).items():
                    for unit, start, end in spans:
                        copy.write_row((unit, row, start, end, unit_vectors[unit]))
        index_shard(conn, v, len(rows))


def load_coordinator(coord: psycopg.Connection, v: str, reader: IndexReader, tokens: Sequence[Sequence[str]]) -> float:
    """Documents and the lexical statistics; returns the average passage length (in tokens)."""
    with coord.cursor() as cur:
        with cur.copy(f"COPY documents_{v} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text"] * 8)
            for doc_id, in reader.db.execute("SELECT doc_id FROM documents ORDER BY doc_id"):
                copy.write_row(reader.db.execute(
                    "SELECT doc_id, source, title, byline, sha256, text, kind, date FROM documents WHERE doc_id = ?",
                    (doc_id,)).fetchone())
    coord.execute(f"ANALYZE documents_{v}")
    return copy_terms(coord, v, tokens)


def copy_terms(coord: psycopg.Connection, v: str, tokens: Sequence[Sequence[str]]) -> float:
    """The lexical statistics (tracuu.core.pg.schema.term_statistics); returns the average length."""
    df, avgdl = term_statistics(tokens)
    with coord.cursor() as cur, cur.copy(f"COPY terms_{v} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["text", "int4"])
        for token, n in df.items():
            copy.write_row((token, n))
    coord.execute(f"ANALYZE terms_{v}")
    return avgdl


def version_tables(conn: psycopg.Connection) -> dict[str, list[str]]:
    """suffix -> the tracuu tables carrying it, on one server (parents only: partitions go with them)."""
    found: dict[str, list[str]] = {}
    for name, in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND c.relname ~ '^(passages|postings|units|documents|terms)_'"):
        kind, suffix = name.split("_", 1)
        found.setdefault(suffix, []).append(name)
    return found


def drop_version_tables(conn: psycopg.Connection, keep: set[str]) -> None:
    for suffix, tables in version_tables(conn).items():
        if suffix not in keep:
            conn.execute("DROP TABLE IF EXISTS " + ", ".join(tables) + " CASCADE")


def drop_unpublished(coord: psycopg.Connection, cluster: list[Shard]) -> None:
    """Tables of a publish that never finished (killed): no reader can know them, drop them."""
    published = {table_suffix(r[0]) for r in coord.execute("SELECT version FROM tracuu_versions")}
    drop_version_tables(coord, published)
    for shard in cluster:
        try:
            with connect(shard.url(coord.info.user), timeout_ms=None) as conn:
                drop_version_tables(conn, published)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"Không kết nối được {shard.name} ({exc}).") from None


def prune(coord: psycopg.Connection, cluster: list[Shard]) -> None:
    """Keep the newest KEEP_VERSIONS versions: a server may still be reading the previous one."""
    versions = [r[0] for r in coord.execute("SELECT version FROM tracuu_versions ORDER BY published DESC, version DESC")]
    for old in versions[KEEP_VERSIONS:]:
        coord.execute("DELETE FROM tracuu_versions WHERE version = %s", (old,))
    drop_unpublished(coord, cluster)
