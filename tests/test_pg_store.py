"""Quick tests of the PostgreSQL store's pure parts (the real servers: tests/test_pg_store_e2e.py)."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from pydantic import ValidationError

from tracuu.core.pg.reader import Memo, merged, unavailable
from tracuu.core.pg.schema import is_postgres_url, table_suffix
from tracuu.settings import Settings


def test_merged_orders_the_shards_lists_as_one_list():
    shard1 = [(4, 0.9), (8, 0.5), (2, 0.5)]
    shard2 = [(3, 0.7), (1, 0.5), (9, 0.1)]
    hits = merged(shard1 + shard2, k=4)
    assert hits.rows.tolist() == [4, 3, 1, 2]  # by score, then row among equal scores
    np.testing.assert_allclose(hits.scores, [0.9, 0.7, 0.5, 0.5])


def test_merged_negates_distances():
    hits = merged([(1, -0.2), (2, -0.9)], k=5, negate=True)  # pgvector's <#> is the negative inner product
    assert hits.rows.tolist() == [2, 1]
    np.testing.assert_allclose(hits.scores, [0.9, 0.2])


def test_unavailable_names_the_shard_in_vietnamese():
    exc = psycopg.OperationalError('could not connect to server "shard2"\nDETAIL: connection refused')
    message = str(unavailable(exc))
    assert "shard2" in message and "thử lại" in message
    assert "quá chậm" in str(unavailable(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")))
    assert "cơ sở dữ liệu" in str(unavailable(psycopg.OperationalError("connection refused")))


def test_memo_is_bounded_and_keeps_order():
    memo = Memo(3)
    memo.update({1: "a", 2: "b"})
    assert memo.missing([2, 3, 1, 3]) == [3]
    assert memo.pick([2, 1, 7]) == ["b", "a"]
    memo.update({3: "c", 4: "d"})  # over the bound: emptied first
    assert sorted(memo) == [3, 4]


def test_store_setting():
    assert Settings(store="embedded").postgres is None
    url = "postgresql://tracuu@127.0.0.1:55432/postgres"
    assert Settings(store=url).postgres == url
    with pytest.raises(ValidationError):
        Settings(store="mysql://x")


def test_names():
    assert is_postgres_url("postgresql://a/b") and is_postgres_url("postgres://a") and not is_postgres_url("/tmp/x")
    assert table_suffix("20261203T091029-25332") == "20261203t091029_25332"


def test_a_bad_store_on_the_command_line_is_refused_with_a_message():
    from typer.testing import CliRunner

    from tracuu.cli import app

    result = CliRunner().invoke(app, ["ask", "Bình Thuận có bao nhiêu dân?", "--store", "mysql://x"])
    assert result.exit_code == 1
    assert "--store mysql://x" in result.output and "postgresql://" in result.output
