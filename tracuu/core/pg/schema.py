"""Names and shapes of the PostgreSQL store, shared by the indexer (writes) and the server (reads).

On the coordinator:
  tracuu_versions(version, shards, passages, avgdl, manifest, registry, diacritics, published)
  tracuu_current(version)               one row; switched in one transaction when a build publishes
  documents_<v>, terms_<v>(token, df)   local tables: documents and the lexical side's statistics
  passages_<v>, postings_<v>, units_<v> partitioned by hash of the passage row; partition i is the
                                        foreign table <name>_s<i> on server shard<i> (postgres_fdw)
On each shard: passages_<v> (with the pgvector embedding), postings_<v>(token, row, tf, length),
units_<v> (answer units with their vectors): the rows of its hash partition.

A version's tables are created under a name no reader knows until tracuu_current points at it, so a
reader sees the old version or the new one, never a mix (as the embedded store's `current` symlink).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from pgvector.psycopg import register_vector

STATEMENT_TIMEOUT_MS = 4000  # a slow shard must become a clear error within the 5 s a person waits
KEEP_VERSIONS = 2
SHARDED = ("passages", "postings", "units")

SHARD_TABLES = """
CREATE TABLE passages_{v} (
    row int PRIMARY KEY, id text, doc_id text, paragraph int, part int, start int, "end" int, text text,
    kind text, section text, page int, place text, embedding vector({dim})
);
CREATE TABLE postings_{v} (token text, row int, tf int, length int);
CREATE TABLE units_{v} (row int PRIMARY KEY, passage_row int, start int, "end" int, embedding vector({dim}));
"""
SHARD_INDEXES = """
CREATE INDEX ON passages_{v} (doc_id);
CREATE INDEX ON postings_{v} (token, row) INCLUDE (tf, length);
CREATE INDEX ON units_{v} (passage_row);
"""
def term_statistics(tokens) -> tuple[dict[str, int], float]:
    """(df of every token, the average length) of the passages' tokens: what the coordinator keeps
    for BM25 (terms_<v>, tracuu_versions.avgdl)."""
    from collections import Counter

    df: Counter = Counter()
    total = 0
    for passage in tokens:
        df.update(set(passage))
        total += len(passage)
    return dict(df), total / max(1, len(tokens)) or 1.0


HNSW_INDEX = "CREATE INDEX ON passages_{v} USING hnsw (embedding vector_ip_ops) WITH (m = 16, ef_construction = 64)"
HNSW_EF_SEARCH = 200  # set on each shard's database: pgvector's default (40) loses recall at k = 50

COORDINATOR_TABLES = """
CREATE TABLE documents_{v} (
    doc_id text PRIMARY KEY, source text, title text, byline text, sha256 text, text text, kind text, date text
);
CREATE TABLE terms_{v} (token text PRIMARY KEY, df int);
CREATE TABLE passages_{v} (
    row int, id text, doc_id text, paragraph int, part int, start int, "end" int, text text,
    kind text, section text, page int, place text, embedding vector({dim})
) PARTITION BY HASH (row);
CREATE TABLE postings_{v} (token text, row int, tf int, length int) PARTITION BY HASH (row);
CREATE TABLE units_{v} (row int, passage_row int, start int, "end" int, embedding vector({dim}))
    PARTITION BY HASH (passage_row);
"""
FOREIGN_PARTITION = ("CREATE FOREIGN TABLE {table}_{v}_s{i} PARTITION OF {table}_{v} "
                     "FOR VALUES WITH (MODULUS {n}, REMAINDER {r}) SERVER shard{i} OPTIONS (table_name '{table}_{v}')")

CONTROL_TABLES = """
CREATE TABLE IF NOT EXISTS tracuu_versions (
    version text PRIMARY KEY, shards int, passages int, avgdl float8, manifest jsonb, registry text,
    diacritics text, published timestamptz
);
CREATE TABLE IF NOT EXISTS tracuu_current (one bool PRIMARY KEY DEFAULT true CHECK (one), version text);
"""


class StoreUnavailable(Exception):
    """The database (or one of its shards) cannot answer now. The message is Vietnamese, for people."""


@dataclass(frozen=True)
class Shard:
    number: int  # 1-based, as in `scripts/cluster stop I`
    name: str  # the coordinator's foreign server: shard<number>
    host: str
    port: int
    dbname: str

    def url(self, user: str) -> str:
        return f"postgresql://{user}@{self.host}:{self.port}/{self.dbname}"


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def table_suffix(version: str) -> str:
    """A version name (20261203T091500-1234) as part of a table name."""
    return re.sub(r"[^a-z0-9]", "_", version.lower())


def connect(url: str, timeout_ms: int | None = STATEMENT_TIMEOUT_MS, autocommit: bool = True) -> psycopg.Connection:
    options = f"-c statement_timeout={timeout_ms}" if timeout_ms else None
    conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=3, options=options)
    try:
        register_vector(conn)
    except psycopg.ProgrammingError:  # the extension is not created yet (a fresh shard)
        pass
    return conn


def shards(conn: psycopg.Connection) -> list[Shard]:
    """The shards the coordinator knows: its postgres_fdw servers named shard<i>."""
    rows = conn.execute(
        "SELECT srvname, srvoptions FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw "
        "WHERE w.fdwname = 'postgres_fdw' AND srvname ~ '^shard[0-9]+$'"
    ).fetchall()
    found = []
    for name, options in rows:
        opts = dict(o.split("=", 1) for o in options or [])
        found.append(Shard(int(name[5:]), name, opts.get("host", "127.0.0.1"), int(opts.get("port", 5432)),
                           opts.get("dbname", "postgres")))
    return sorted(found, key=lambda s: s.number)


def current_version(conn: psycopg.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version FROM tracuu_current").fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return row[0] if row else None
