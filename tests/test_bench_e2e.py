"""`tracuu bench` runs end to end at a tiny size (no timing assertions: numbers go in reports)."""

import json

import pytest


from tests.conftest import run_tracuu



def test_bench_runs_and_reports(tmp_path):
    r = run_tracuu("bench", "--requests", "10", "--alqac-limit", "16", "--json", timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    backends = {row["backend"] for row in report["indexing"]}
    assert {"torch", "onnx-int8"} <= backends
    assert all(row["passages_per_s"] > 0 for row in report["indexing"])
    serving = report["serving"]
    assert serving["first_answer_s"] > 0 and serving["peak_rss_mb"] > 100
    assert [load["clients"] for load in serving["loads"]] == [1, 8, 32]
    for load in serving["loads"]:
        assert load["failures"] == 0 and load["requests"] >= 10
        assert load["p50_ms"] > 0
        assert load["throughput_qps"] == pytest.approx(load["requests"] / load["seconds"], rel=0.02)
    assert {"encode", "dense", "lexical", "fusion", "answers"} <= set(serving["loads"][0]["stages_median_ms"])
