"""Prepare a coordinator and its shards (run by `scripts/cluster up`):

    python -m indexer.pg.cluster postgresql://…coordinator postgresql://…shard1 postgresql://…shard2

Idempotent. The coordinator gets pgvector, postgres_fdw and one foreign server per shard (`shard<i>`),
`async_capable` so that a query's per-shard parts run at the same time, with `extensions 'vector'` so
that pgvector's operators are pushed down to the shards. Each shard gets pgvector and a larger HNSW
search list (schema.HNSW_EF_SEARCH).
"""

from __future__ import annotations

import sys

from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tracuu.core.pg.schema import CONTROL_TABLES, HNSW_EF_SEARCH, connect


def init_cluster(coordinator: str, shard_urls: list[str]) -> None:
    for url in shard_urls:
        with connect(url) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            dbname = conninfo_to_dict(url).get("dbname", "postgres")
            conn.execute(sql.SQL("ALTER DATABASE {} SET hnsw.ef_search = {}").format(
                sql.Identifier(dbname), sql.Literal(HNSW_EF_SEARCH)))
    with connect(coordinator) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgres_fdw")
        for i, url in enumerate(shard_urls, 1):
            info = conninfo_to_dict(url)
            name = sql.Identifier(f"shard{i}")
            options = {"host": info.get("host", "127.0.0.1"), "port": str(info.get("port", 5432)),
                       "dbname": info.get("dbname", "postgres"), "async_capable": "true", "extensions": "vector",
                       "fetch_size": "1000", "batch_size": "1000", "connect_timeout": "2"}
            # IF NOT EXISTS: running `cluster up` again must not drop the published versions' partitions
            conn.execute(sql.SQL("CREATE SERVER IF NOT EXISTS {} FOREIGN DATA WRAPPER postgres_fdw OPTIONS ({})").format(
                name, sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(k), sql.Literal(v))
                                         for k, v in options.items())))
            conn.execute(sql.SQL("CREATE USER MAPPING IF NOT EXISTS FOR CURRENT_USER SERVER {} OPTIONS (user {})").format(
                name, sql.Literal(info.get("user", "tracuu"))))
        conn.execute(CONTROL_TABLES)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python -m indexer.pg.cluster COORDINATOR_URL SHARD_URL [SHARD_URL ...]")
    init_cluster(sys.argv[1], sys.argv[2:])
