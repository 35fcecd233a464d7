"""The PostgreSQL store (TRACUU_STORE=postgresql://…): the same index as tracuu.core.store, held by a
coordinator whose passages are hash-partitioned over shards (postgres_fdw foreign partitions). The
indexer publishes versions into it (indexer/pg/); the server reads them with `PgReader` (reader.py)."""
