"""`tracuu eval`: records → documents, metrics (against ranx and by hand), passage → document dedupe,
dataset loading, and (e2e) the command on a tiny BEIR set, a real benchmark slice and the gold questions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from eval.beir import (DocHit, Dataset, ModeResult, compute_metrics, dedupe_documents, failures, load_dataset,
                       read_records)
from eval.gold import Outcome, Question, contains_answer, summarize
from eval.gold import failures as gold_failures
from eval.indexes import EvalError
from eval.report import trec_id, write_trec_run
from indexer.passages import MAX_CHARS
from indexer.records import document_from_record

# ---- records → documents ----


def check_offsets(doc):
    for p in doc.passages:
        assert doc.text[p.start:p.end] == p.text
        assert p.text == p.text.strip() and p.text


def test_record_short_lines_are_packed_into_one_passage():
    text = "  Phạm vi điều chỉnh\r\n\nLuật này quy định về phòng, chống ma túy.\n\n"
    doc = document_from_record("luat#1", "Luật Phòng, chống ma túy - Điều 1", text)
    assert doc.title == "Luật Phòng, chống ma túy - Điều 1" and "Luật Phòng" not in doc.text
    assert doc.text == text and doc.source == "luat#1"
    assert [p.id for p in doc.passages] == ["luat#1:1"]
    check_offsets(doc)
    assert doc.passages[0].text.startswith("Phạm vi") and doc.passages[0].text.endswith("ma túy.")
    import hashlib

    assert doc.sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_record_lines_beyond_max_chars_start_a_new_passage():
    lines = [f"Khoản {i}. " + "Người học phải tuân thủ quy chế đào tạo của trường. " * 4 for i in range(1, 9)]
    text = "\n".join(line.strip() for line in lines)
    doc = document_from_record("reg", "", text)
    check_offsets(doc)
    assert len(doc.passages) > 1
    assert [p.id for p in doc.passages] == [f"reg:{n}" for n in range(1, len(doc.passages) + 1)]
    assert all(len(p.text) <= MAX_CHARS for p in doc.passages)
    # Lines are never cut: every passage starts and ends at a line boundary, and all lines are covered.
    assert all(p.text.startswith("Khoản") for p in doc.passages)
    assert "\n".join(p.text for p in doc.passages) == text


def test_record_long_line_is_cut_at_sentence_ends():
    sentences = [f"Câu thứ {i} nói về việc tiêm vaccine cho người có bệnh nền mạn tính." for i in range(40)]
    line = " ".join(sentences)
    text = "Chào bạn!\n" + line + "\nTrân trọng."
    doc = document_from_record("ans1", "", text)
    check_offsets(doc)
    assert doc.passages[0].text == "Chào bạn!" and doc.passages[-1].text == "Trân trọng."
    middle = doc.passages[1:-1]
    assert len(middle) >= 3 and all(len(p.text) <= MAX_CHARS and p.text.endswith("mạn tính.") for p in middle)
    assert " ".join(p.text for p in middle) == line


def test_record_without_text_is_refused_and_skipped(tmp_path):
    with pytest.raises(ValueError):
        document_from_record("x", "tiêu đề", " \n ")
    corpus = tmp_path / "corpus.jsonl"
    rows = [{"_id": "a", "title": "A", "text": "Một."}, {"_id": "b", "title": "B", "text": ""},
            {"_id": "a", "title": "A lần hai", "text": "Hai."}, {"_id": "c", "text": "Ba."}]
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    documents, skipped = read_records(corpus)
    assert [d.doc_id for d in documents] == ["a", "c"] and skipped == 2
    assert documents[0].text == "Một." and documents[1].title == ""


# ---- metrics ----

QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 1}, "q3": {"d4": 1}}
RANKINGS = {"q1": ["d1", "d5"], "q2": ["d5", "d3", "d6", "d2"], "q3": ["d5", "d6"], "q4": ["d1"]}  # q4: not judged


def test_metrics_match_ranx_and_hand_computed_values():
    import ranx

    ours = compute_metrics(QRELS, RANKINGS)
    run = ranx.Run({q: {d: 1.0 / r for r, d in enumerate(docs, 1)} for q, docs in RANKINGS.items() if q in QRELS})
    theirs = ranx.evaluate(ranx.Qrels(QRELS), run, list(ours))
    assert ours == pytest.approx({k: float(v) for k, v in theirs.items()})
    ndcg_q2 = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ours == pytest.approx({
        "hit_rate@1": 1 / 3,  # only q1 has a relevant first document
        "mrr@10": (1 + 1 / 2 + 0) / 3,
        "ndcg@10": (1 + ndcg_q2 + 0) / 3,
        "recall@10": (1 + 1 + 0) / 3,
        "recall@100": (1 + 1 + 0) / 3,
    })
    assert compute_metrics(QRELS, RANKINGS, ["recall@1", "recall@3"]) == pytest.approx(
        {"recall@1": 1 / 3, "recall@3": (1 + 0.5 + 0) / 3})


def test_queries_without_results_score_zero():
    assert compute_metrics(QRELS, {"q1": ["d1"]})["hit_rate@1"] == pytest.approx(1 / 3)
    assert compute_metrics(QRELS, {"q1": [], "q2": []}) == {m: 0.0 for m in compute_metrics(QRELS, RANKINGS)}


def test_passages_are_deduplicated_to_documents_in_rank_order():
    passages = [("a", 0.9, "a:2"), ("b", 0.8, "b:1"), ("a", 0.7, "a:1"), ("c", 0.6, "c:1"), ("b", 0.5, "b:3")]
    assert dedupe_documents(passages) == [DocHit("a", 0.9, "a:2"), DocHit("b", 0.8, "b:1"), DocHit("c", 0.6, "c:1")]
    # Documents then rank by their best passage: a relevant document's second passage does not count twice.
    ids = {"q2": [d.doc_id for d in dedupe_documents([("d3", 1, ""), ("d3", 1, ""), ("d2", 1, "")])]}
    assert compute_metrics({"q2": QRELS["q2"]}, ids, ["recall@2"]) == {"recall@2": 1.0}


def test_failures_list_queries_whose_first_document_is_wrong():
    dataset = Dataset("t", Path("."), "dev", {q: f"câu {q}" for q in QRELS}, QRELS)
    rankings = {q: [DocHit(d, 1.0 / r, "x" * 300) for r, d in enumerate(RANKINGS[q], 1)] for q in QRELS}
    rows = failures(dataset, ModeResult("hybrid", {}, [], rankings))
    assert [r["query_id"] for r in rows] == ["q2", "q3"]
    assert rows[0]["gold"] == ["d2", "d3"] and rows[0]["gold_rank"] == 2 and rows[1]["gold_rank"] is None
    assert [t["doc_id"] for t in rows[0]["top"]] == ["d5", "d3", "d6"] and len(rows[0]["top"][0]["text"]) == 201


def test_trec_run_file_keeps_ids_splittable(tmp_path):
    path = tmp_path / "run.trec"
    write_trec_run(path, {"q1": ["Luật Đất đai#5", "b"]}, "tracuu-hybrid")
    lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines == [["q1", "Q0", "Luật%20Đất%20đai#5", "1", "1.000000", "tracuu-hybrid"],
                     ["q1", "Q0", "b", "2", "0.500000", "tracuu-hybrid"]]
    assert trec_id("50%") == "50%25"


def test_stale_eval_indexes_of_the_same_set_are_pruned(tmp_path):
    import os
    import time

    from eval.indexes import MARKER, prune_siblings

    for name in ("uit-qa-aaa", "uit-qa-bbb", "uit-qa-ccc", "uit-qa-v2-ddd", "other-eee"):
        (tmp_path / name).mkdir()
        (tmp_path / name / MARKER).write_text("{}")
    old = time.time() - 2 * 86400
    for name in ("uit-qa-bbb", "uit-qa-v2-ddd", "other-eee"):
        os.utime(tmp_path / name / MARKER, (old, old))
    prune_siblings(tmp_path / "uit-qa-aaa")
    # Only the same set's old index goes; a recently used one ("ccc") and other sets stay.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other-eee", "uit-qa-aaa", "uit-qa-ccc", "uit-qa-v2-ddd"]


# ---- datasets ----

DOCS = [
    ("d01", "Học phí", "Học phí năm học 2024 của sinh viên hệ chính quy là 30 triệu đồng."),
    ("d02", "Chuẩn đầu ra", "Sinh viên cần đạt chứng chỉ TOEIC 550 trở lên để được xét tốt nghiệp."),
    ("d03", "Thi hộ", "Sinh viên thi hộ hoặc nhờ người thi hộ bị đình chỉ học tập một năm."),
    ("d04", "Vaccine", "Phụ nữ đang cho con bú vẫn có thể tiêm vaccine Covid-19 theo hướng dẫn của Bộ Y tế."),
    ("d05", "Ma túy", "Người nghiện ma túy từ đủ 18 tuổi trở lên phải cai nghiện bắt buộc."),
    ("d06", "Đất đai", "Người sử dụng đất có quyền chuyển nhượng quyền sử dụng đất theo quy định."),
    ("d07", "Thời tiết", "Hà Nội hôm nay có mưa rào và dông, nhiệt độ thấp nhất 24 độ C."),
    ("d08", "Bóng đá", "Đội tuyển Việt Nam thắng 2-0 trong trận giao hữu tối qua."),
    ("d09", "Thư viện", "Thư viện trường mở cửa từ 7 giờ sáng đến 21 giờ các ngày trong tuần.\n\n"
                        "Sinh viên mượn sách bằng thẻ sinh viên, tối đa 5 cuốn."),
    ("d10", "", "Ký túc xá có 2.000 chỗ ở cho sinh viên năm nhất."),
]
QUERIES = [
    ("q1", "Học phí hệ chính quy năm 2024 là bao nhiêu?", "d01"),
    ("q2", "Điểm TOEIC tối thiểu để tốt nghiệp?", "d02"),
    ("q3", "Thi hộ bị xử lý thế nào?", "d03"),
    ("q4", "Đang cho con bú có tiêm vaccine được không?", "d04"),
    ("q5", "Thư viện mở cửa lúc mấy giờ?", "d09"),
]


def make_dataset(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": t, "text": x}, ensure_ascii=False) + "\n" for i, t, x in DOCS),
        encoding="utf-8")
    queries = [*QUERIES, ("q6", "Câu hỏi không có đánh giá trong dev", None)]
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t, "split": "dev"}, ensure_ascii=False) + "\n" for q, t, _ in queries),
        encoding="utf-8")
    (root / "qrels" / "dev.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, _, d in QUERIES), encoding="utf-8")
    (root / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq6\td07\t1\n", encoding="utf-8")
    return root


def test_load_dataset_keeps_judged_queries_in_file_order(tmp_path):
    root = make_dataset(tmp_path / "tiny")
    dataset = load_dataset(root, "dev")
    assert list(dataset.queries) == ["q1", "q2", "q3", "q4", "q5"] and dataset.without_qrels == 1
    assert dataset.qrels["q5"] == {"d09": 1} and dataset.name == "tiny"
    assert list(load_dataset(root, "dev", limit=2).queries) == ["q1", "q2"]
    assert list(load_dataset(root, "train").queries) == ["q6"]


def test_load_dataset_names_what_is_missing(tmp_path):
    root = make_dataset(tmp_path / "tiny")
    with pytest.raises(EvalError, match="không có thư mục"):
        load_dataset(tmp_path / "nothing")
    with pytest.raises(EvalError) as info:
        load_dataset(root, "test")
    assert "test.tsv" in str(info.value) and "dev, train" in str(info.value)
    (root / "queries.jsonl").unlink()
    with pytest.raises(EvalError, match="queries.jsonl"):
        load_dataset(root, "dev")


# ---- gold ----


def test_gold_summary_counts_hits_and_the_answerable_signal():
    def outcome(kind, answers, ranks, answerable, confidence, sentence=None):
        return Outcome(Question(kind, kind, "?", tuple(answers), None), ranks, answerable, confidence, [], sentence)

    outcomes = [
        outcome("natural", ["x"], [True, False], True, 0.9, "câu có x."),
        outcome("natural", ["x"], [False, False, False, False, True], True, 0.7, "câu khác."),
        outcome("keyword", ["x"], [True] * 5, False, 0.2, "câu khác."),
        outcome("unanswerable", [], [False] * 5, False, 0.1),
        outcome("unanswerable", [], [False] * 5, True, 0.6),
    ]
    report = summarize(outcomes)
    assert report["kinds"]["natural"] == {"questions": 2, "hit@1": 0.5, "hit@5": 1.0, "sentence@1": 0.5}
    assert report["overall"] == pytest.approx({"questions": 3, "hit@1": 2 / 3, "hit@5": 1.0, "sentence@1": 1 / 3})
    # found at rank 1 but with another sentence highlighted: listed, and not as a miss
    assert [r["reasons"] for r in gold_failures("hybrid", outcomes) if r["kind"] == "keyword"] == [
        ["other_sentence", "answerable_wrong"]]
    assert "unanswerable" not in report["kinds"]
    assert report["answerable_signal"]["answerable"] == pytest.approx(
        {"questions": 3, "accuracy": 2 / 3, "mean_confidence": 0.6})
    assert report["answerable_signal"]["unanswerable"] == pytest.approx(
        {"questions": 2, "accuracy": 0.5, "mean_confidence": 0.35})
    assert contains_answer("Tỉnh có gần 1,3 triệu dân.", ["1,3 triệu dân"])
    assert not contains_answer("Tỉnh có gần 1,3 triệu người.", ["1,3 triệu dân"])


# ---- end to end: the real command ----
