"""`tracuu eval` end to end: a tiny BEIR set, a real benchmark slice and the gold questions, with the
real model."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO, SETTINGS, run_tracuu
from eval.indexes import code_fingerprint
from tests.test_eval import make_dataset


METRIC_KEYS = {"hit@1", "mrr@10", "ndcg@10", "recall@10", "recall@100"}


def check_report(report: dict, modes: set[str]) -> None:
    assert set(report) == {"dataset", "split", "queries", "modes"}
    assert set(report["modes"]) == modes
    for values in report["modes"].values():
        assert set(values) == METRIC_KEYS
        assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in values.values())


def test_eval_on_a_tiny_beir_set_writes_the_report_and_reuses_its_index(tmp_path):
    root = make_dataset(tmp_path / "tiny-vi")
    out = tmp_path / "out"
    code = code_fingerprint()
    first = run_tracuu("eval", "--dataset", str(root), "--json", "--out", str(out))
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)  # nothing but the JSON on stdout
    check_report(report, {"dense", "lexical", "hybrid"})
    assert report["dataset"] == "tiny-vi" and report["split"] == "dev" and report["queries"] == 5
    assert report["modes"]["dense"]["recall@100"] == 1.0  # 10 documents: all of them are returned
    for name in ("run-dense.trec", "run-lexical.trec", "run-hybrid.trec", "report.json", "plot.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "failures.jsonl").is_file()  # may be empty if every first document is right
    assert (out / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert {k: saved[k] for k in report} == report and saved["details"]["index"]["documents"] == 10
    assert len(saved["details"]["recall_curve"]["hybrid"]) == 100
    run_lines = [line.split() for line in (out / "run-hybrid.trec").read_text(encoding="utf-8").splitlines()]
    assert len(run_lines) == 5 * 10  # every query ranks all 10 documents (dense search returns every passage)
    assert [run_lines[0][i] for i in (0, 1, 3)] == ["q1", "Q0", "1"]
    for line in (out / "failures.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert row["mode"] in report["modes"] and row["gold"] and len(row["top"]) <= 3

    second = run_tracuu("eval", "--dataset", str(root), "--json", "--out", str(out), "--mode", "hybrid")
    assert second.returncode == 0, second.stderr
    if code_fingerprint() == code:
        assert "chỉ mục có sẵn" in second.stderr and "Đã lập chỉ mục" not in second.stderr
    else:  # the indexer's source was edited meanwhile, so the index was rebuilt: from cached embeddings
        assert "(0 đoạn/câu nhúng mới)" in second.stderr
    assert json.loads(second.stdout)["modes"]["hybrid"] == report["modes"]["hybrid"]


def test_eval_refuses_missing_dataset_and_split(tmp_path):
    root = make_dataset(tmp_path / "tiny-vi")
    r = run_tracuu("eval", "--dataset", str(root), "--split", "test")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    unwrapped = "".join(r.stderr.split())  # rich wraps long paths at the terminal width
    assert "qrels/test.tsv" in unwrapped and "split'test'" in unwrapped and "dev,train" in unwrapped
    r = run_tracuu("eval", "--dataset", str(tmp_path / "nothing"))
    assert r.returncode == 1 and "nothing" in "".join(r.stderr.split()) and "Traceback" not in r.stderr
    r = run_tracuu("eval")
    assert r.returncode == 1 and "--dataset" in r.stderr


BENCHMARK = SETTINGS.benchmarks / "uit-regulations-qa"


@pytest.mark.skipif(not BENCHMARK.is_dir(), reason="the shared benchmark folder is not on this machine")
def test_eval_on_a_real_benchmark_slice(tmp_path):
    r = run_tracuu("eval", "--dataset", str(BENCHMARK), "--limit", "20", "--mode", "hybrid", "--json",
                   "--out", str(tmp_path / "out"), timeout=1200)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    check_report(report, {"hybrid"})
    assert report["dataset"] == "uit-regulations-qa" and report["queries"] == 20
    assert report["modes"]["hybrid"]["recall@10"] >= 0.5  # far below what it gets: catches id / dedupe bugs
    # The shipped restoration counts hold uit's questions: typed without diacritics, each is restored
    # without its own counts (eval.question_prior.hold_out).
    r = run_tracuu("eval", "--dataset", str(BENCHMARK), "--limit", "20", "--mode", "hybrid", "--accentless",
                   "--json", "--out", str(tmp_path / "accentless"), timeout=1200)
    assert r.returncode == 0, r.stderr
    saved = json.loads((tmp_path / "accentless" / "report.json").read_text(encoding="utf-8"))
    assert saved["details"]["restoration"] == "held out"


def test_eval_gold_reports_kinds_and_the_answerable_signal(tmp_path):
    r = run_tracuu("eval", "--gold", str(REPO / "eval" / "gold.jsonl"), "--json", "--out", str(tmp_path / "out"),
                   timeout=1200)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    gold = [json.loads(line) for line in (REPO / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()]
    assert report["questions"] == len(gold) and set(report["modes"]) == {"dense", "lexical", "hybrid"}
    kinds = {q["kind"] for q in gold if q["answers"]}
    for mode in report["modes"].values():
        assert set(mode["kinds"]) == kinds
        assert mode["overall"]["questions"] == sum(1 for q in gold if q["answers"])
    # Cross-check the hit rates against failures.jsonl, written by the same run: a question misses @1
    # when it is listed with miss@1 or miss@5, and misses @5 when listed with miss@5.
    rows = [json.loads(line) for line in (tmp_path / "out" / "failures.jsonl").read_text(encoding="utf-8").splitlines()]
    for name, mode in report["modes"].items():
        n = mode["overall"]["questions"]
        reasons = [set(r["reasons"]) for r in rows if r["mode"] == name]
        miss1 = sum(1 for r in reasons if r & {"miss@1", "miss@5"})
        miss5 = sum(1 for r in reasons if "miss@5" in r)
        assert mode["overall"]["hit@1"] == pytest.approx(1 - miss1 / n, abs=1e-3)
        assert mode["overall"]["hit@5"] == pytest.approx(1 - miss5 / n, abs=1e-3)
        other = sum(1 for r in reasons if "other_sentence" in r)  # right passage, another sentence shown
        assert mode["overall"]["sentence@1"] == pytest.approx(1 - (miss1 + other) / n, abs=1e-3)
        signal = mode["answerable_signal"]
        assert signal["unanswerable"]["questions"] == sum(1 for q in gold if not q["answers"])
        for group in signal.values():
            assert 0.0 <= group["accuracy"] <= 1.0 and 0.0 <= group["mean_confidence"] <= 1.0
    assert (tmp_path / "out" / "report.json").is_file() and (tmp_path / "out" / "failures.jsonl").is_file()
