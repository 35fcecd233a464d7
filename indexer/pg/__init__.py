"""Writing the PostgreSQL store: `cluster` sets up a coordinator and its shards, `publish` copies a built
index version into them and makes it current (formats: tracuu/core/pg/schema.py)."""
