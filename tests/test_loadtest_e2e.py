"""The load test (eval/loadtest.py), small: a real server answers every request across an index swap,
each citation exact. At full size (10,000 requests, 32 clients, 2 swaps) it is run by hand:
`.venv/bin/python -m eval.loadtest` (docs/speed.md)."""

from __future__ import annotations

from eval.loadtest import run_loadtest
from tests.conftest import SETTINGS


def test_a_small_load_across_a_swap_fails_nothing(tmp_path):
    report = run_loadtest(requests=200, clients=4, swaps=1, work=tmp_path, settings=SETTINGS)
    assert report["failures"] == 0, report["failure_examples"]
    assert report["citation_errors"] == 0, report["citation_error_examples"]
    assert report["swaps_done"] == 1 and report["swaps"][0]["new_version"] != report["swaps"][0]["old_version"]
    assert report["requests"] >= 200 and report["citations_checked"] >= 200
    assert report["ok"]
