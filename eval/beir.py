"""Evaluate retrieval on a dataset in BEIR layout, the way IR papers do.

    DIR/corpus.jsonl        {"_id", "title", "text", ...}   one record = one document
    DIR/queries.jsonl       {"_id", "text", ...}
    DIR/qrels/<split>.tsv   header line, then query-id <TAB> corpus-id <TAB> score

The corpus is indexed with the product's own indexer (`indexer.build.build_from_documents`, records made
into documents by `indexer.records`) and every query goes through the server's `Searcher`. Passages are
ranked; a document ranks where its best passage ranks (passages are deduplicated to documents in rank
order). Metrics come from ranx.
"""

from __future__ import annotations

import csv
import json
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

from indexer.build import build_from_documents
from indexer.documents import Document
from indexer.embedding_cache import EmbeddingCache
from indexer.passages import MAX_CHARS
from indexer.records import document_from_record
from tracuu.core.store import FORMAT_VERSION
from eval.indexes import (EvalError, IndexInfo, cached_index, describe, file_digest, index_key, progress_bar,
                          settings_fingerprint)
from eval.report import plot_beir, write_json, write_jsonl, write_trec_run
from server.search import MAX_K, BadQuery, Searcher

MODES = ("dense", "lexical", "hybrid")
# Passages asked for per query. The first MAX_K come from exactly the call the server makes; the rest
# extend the list so that most queries reach 100 distinct documents (recall@100).
DEPTH = 300
UIT = "uit-regulations-qa"  # the one benchmark whose questions may train what ships (MIT)
METRICS = {"hit@1": "hit_rate@1", "mrr@10": "mrr@10", "ndcg@10": "ndcg@10", "recall@10": "recall@10",
           "recall@100": "recall@100"}  # our name -> ranx name
CURVE = range(1, 101)  # k of the recall@k curve


@dataclass
class Dataset:
    name: str
    root: Path
    split: str
    queries: dict[str, str]  # query id -> text, in file order; only queries with qrels in the split
    qrels: dict[str, dict[str, int]]  # query id -> {corpus id: relevance}
    without_qrels: int = 0  # queries of queries.jsonl that the split does not judge
    without_text: int = 0  # judged query ids missing from queries.jsonl

    @property
    def corpus(self) -> Path:
        return self.root / "corpus.jsonl"


def available_splits(root: Path) -> list[str]:
    folder = root / "qrels"
    return sorted(p.stem for p in folder.glob("*.tsv")) if folder.is_dir() else []


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), 1):
            if not row or (number == 1 and row[0] == "query-id"):
                continue
            if len(row) < 3:
                raise EvalError(f"{path}, dòng {number}: cần 3 cột query-id, corpus-id, score")
            try:
                score = int(float(row[2]))
            except ValueError:
                raise EvalError(f"{path}, dòng {number}: điểm '{row[2]}' không phải là số") from None
            qrels.setdefault(row[0], {})[row[1]] = score
    return qrels


def _jsonl(path: Path) -> Iterable[dict]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise EvalError(f"{path}, dòng {number}: không phải JSON ({exc})") from None


def load_dataset(root: Path, split: str = "dev", limit: int | None = None) -> Dataset:
    """The judged queries of one split (at most limit of them, in queries.jsonl order)."""
    if not root.is_dir():
        raise EvalError(f"không có thư mục bộ dữ liệu {root}")
    missing = [name for name in ("corpus.jsonl", "queries.jsonl", "qrels") if not (root / name).exists()]
    if missing:
        raise EvalError(f"{root} không theo cấu trúc BEIR: thiếu {', '.join(missing)}")
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        splits = ", ".join(available_splits(root)) or "không có"
        raise EvalError(f"không có tệp {qrels_path} cho split '{split}'; các split hiện có: {splits}")
    judged = {q: docs for q, docs in read_qrels(qrels_path).items() if any(s > 0 for s in docs.values())}
    queries: dict[str, str] = {}
    total = 0
    for record in _jsonl(root / "queries.jsonl"):
        total += 1
        qid = str(record.get("_id", ""))
        if qid in judged and qid not in queries:
            queries[qid] = str(record.get("text", ""))
    without_qrels = total - len(queries)
    without_text = sum(1 for q in judged if q not in queries)
    if limit is not None:
        queries = dict(list(queries.items())[:limit])
    if not queries:
        raise EvalError(f"split '{split}' của {root} không có câu hỏi nào có đánh giá (qrels)")
    return Dataset(name=root.resolve().name, root=root, split=split, queries=queries,
                   qrels={q: judged[q] for q in queries}, without_qrels=without_qrels, without_text=without_text)


def read_records(path: Path) -> tuple[list[Document], int]:
    """Documents of a corpus.jsonl; records with empty text or a repeated id are skipped (counted)."""
    documents: list[Document] = []
    seen: set[str] = set()
    skipped = 0
    for record in _jsonl(path):
        doc_id = str(record.get("_id", ""))
        text = record.get("text") or ""
        if not doc_id or doc_id in seen or not text.strip():
            skipped += 1
            continue
        seen.add(doc_id)
        documents.append(document_from_record(doc_id, str(record.get("title") or ""), text))
    return documents, skipped


def ensure_index(
    dataset: Dataset, encoder, cache: EmbeddingCache, home: Path,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> IndexInfo:
    """The dataset's corpus indexed as the product indexes it (answer units included: the ranker reads
    them), reused when corpus, model and settings are unchanged."""
    settings = settings_fingerprint(max_chars=MAX_CHARS, answer_units=True, store_format=FORMAT_VERSION)
    key = index_key(file_digest(dataset.corpus), encoder.vectors_id, settings)
    index_dir = home / "eval-index" / f"{dataset.name}-{key}"

    def build() -> dict:
        documents, skipped = read_records(dataset.corpus)
        if not documents:
            raise EvalError(f"{dataset.corpus} không có bản ghi nào có nội dung")
        report = build_from_documents(documents, index_dir, encoder, cache, on_progress,
                                      source=str(dataset.corpus.resolve()))
        return {"documents": report.documents, "passages": report.passages, "embedded": report.embedded,
                "skipped": skipped}

    return cached_index(index_dir, key, build)


@dataclass
class DocHit:
    doc_id: str
    score: float  # the score of the document's best passage
    text: str  # the text of that passage


def dedupe_documents(passages: Iterable[tuple[str, float, str]]) -> list[DocHit]:
    """(doc_id, score, text) of ranked passages → documents in the rank of their first (best) passage."""
    seen: set[str] = set()
    documents = []
    for doc_id, score, text in passages:
        if doc_id not in seen:
            seen.add(doc_id)
            documents.append(DocHit(doc_id, score, text))
    return documents


class QueryMemo:
    """The encoder, remembering query vectors: a query is encoded once (exactly as the server encodes it,
    alone) however many searches and modes use it."""

    def __init__(self, encoder):
        self._encoder = encoder
        self._vectors: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str):
        return getattr(self._encoder, name)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        for text in texts:
            if text not in self._vectors:
                self._vectors[text] = self._encoder.encode_queries([text])[0]
        return np.stack([self._vectors[t] for t in texts])


def retrieve(searcher: Searcher, query: str, mode: str, depth: int = DEPTH) -> list[DocHit]:
    """Documents for a query. The first MAX_K passages are exactly what the server returns for k=MAX_K
    (in hybrid mode a deeper search fuses longer candidate lists and may order the top differently);
    passages of a deeper search follow."""
    top = searcher.search(query, MAX_K, mode, answers=False).hits
    passages = [h.passage for h in top]
    scores = [h.score for h in top]
    if depth > MAX_K:
        rows = {p.row for p in passages}
        deep = [h for h in searcher.search(query, depth, mode, answers=False, limit_check=False).hits
                if h.passage.row not in rows]
        passages += [h.passage for h in deep]
        scores += [h.score for h in deep]
    return dedupe_documents((p.doc_id, s, p.text) for p, s in zip(passages, scores))


def _ranx():
    warnings.filterwarnings("ignore", module="ranx")
    warnings.filterwarnings("ignore", message=".*unsafe cast.*")
    import ranx

    return ranx


def ranx_run(rankings: dict[str, list[str]], name: str = "run"):
    """A ranx Run in which each query's documents keep their order (score 1/rank: no ties)."""
    ranx = _ranx()
    data = {q: {d: 1.0 / r for r, d in enumerate(docs, 1)} for q, docs in rankings.items() if docs}
    return ranx.Run(data, name=name)


def compute_metrics(qrels: dict[str, dict[str, int]], rankings: dict[str, list[str]],
                    metrics: Iterable[str] = tuple(METRICS.values())) -> dict[str, float]:
    """ranx metric name -> mean over the queries of qrels; a query without results scores 0."""
    ranx = _ranx()
    metrics = list(metrics)
    if not any(rankings.get(q) for q in qrels):  # ranx cannot hold an empty run
        return {m: 0.0 for m in metrics}
    scores = ranx.evaluate(ranx.Qrels(qrels), ranx_run(rankings), metrics, make_comparable=True,
                           save_results_in_run=False)
    if len(metrics) == 1:
        scores = {metrics[0]: scores}
    return {m: float(v) for m, v in scores.items()}


@dataclass
class ModeResult:
    mode: str
    metrics: dict[str, float]  # our names (METRICS keys)
    curve: list[float]  # recall@k for k in CURVE
    rankings: dict[str, list[DocHit]]
    rejected: list[str] = field(default_factory=list)  # queries the searcher refused (scored 0)
    seconds: float = 0.0

    @property
    def short_lists(self) -> int:
        """Queries that got fewer than 100 documents (recall@100 is computed on what there is)."""
        return sum(1 for docs in self.rankings.values() if len(docs) < 100)


def run_mode(searcher: Searcher, dataset: Dataset, mode: str,
             on_query: Callable[[int, int], None] | None = None) -> ModeResult:
    started = time.perf_counter()
    rankings: dict[str, list[DocHit]] = {}
    rejected = []
    for n, (qid, text) in enumerate(dataset.queries.items(), 1):
        try:
            rankings[qid] = retrieve(searcher, text, mode)
        except BadQuery:
            rankings[qid] = []
            rejected.append(qid)
        if on_query:
            on_query(n, len(dataset.queries))
    seconds = time.perf_counter() - started
    ids = {q: [d.doc_id for d in docs] for q, docs in rankings.items()}
    scores = compute_metrics(dataset.qrels, ids, [*METRICS.values(), *(f"recall@{k}" for k in CURVE)])
    return ModeResult(
        mode=mode,
        metrics={ours: scores[theirs] for ours, theirs in METRICS.items()},
        curve=[scores[f"recall@{k}"] for k in CURVE],
        rankings=rankings,
        rejected=rejected,
        seconds=seconds,
    )


def failures(dataset: Dataset, result: ModeResult, top: int = 3, chars: int = 200) -> list[dict]:
    """Queries whose first document is not relevant, with what came first instead."""
    rows = []
    for qid, docs in result.rankings.items():
        gold = dataset.qrels[qid]
        if docs and gold.get(docs[0].doc_id, 0) > 0:
            continue
        first_relevant = next((r for r, d in enumerate(docs, 1) if gold.get(d.doc_id, 0) > 0), None)
        rows.append({
            "mode": result.mode,
            "query_id": qid,
            "query": dataset.queries[qid],
            "gold": sorted(d for d, s in gold.items() if s > 0),
            "gold_rank": first_relevant,
            "top": [{"doc_id": d.doc_id, "score": round(d.score, 6),
                     "text": d.text if len(d.text) <= chars else d.text[:chars] + "…"} for d in docs[:top]],
        })
    return rows


def evaluate_dataset(
    dataset: Dataset, modes: Sequence[str], encoder, cache: EmbeddingCache, home: Path, out_dir: Path,
    console: Console, query_encoder=None, ranker=None, restore: bool = True, store: str | None = None,
) -> dict:
    """Index (or reuse) with encoder, run every mode with query_encoder (default: encoder), write the
    files into out_dir; returns report.json's content. Progress and notes go to console (stderr).
    With `store` (a postgresql:// URL) the index is published there and every question asked through it."""
    with progress_bar(console, "Nhúng đoạn văn") as update:
        info = ensure_index(dataset, encoder, cache, home, lambda stage, done, total: update(done, total))
    console.print(describe(info), highlight=False, soft_wrap=True)
    if info.skipped:
        console.print(f"Bỏ qua {info.skipped} bản ghi rỗng hoặc trùng mã.", highlight=False)
    if dataset.without_text:
        console.print(f"[yellow]{dataset.without_text} câu hỏi có qrels nhưng không có trong queries.jsonl.[/]")
    location = info.index_dir
    if store:
        from indexer.pg.publish import publish_index

        with console.status(f"Đăng chỉ mục lên {store} …"):
            publish_index(store, info.index_dir, cache.path)
        location = store
    searcher = Searcher(location, QueryMemo(query_encoder or encoder), ranker, restore=restore)
    restoration = "shipped" if restore else "off"
    if restore and dataset.name == UIT and not store:
        # The shipped restoration counts hold uit's own questions: restore each one without itself.
        from eval.question_prior import hold_out

        hold_out(searcher.reader, dataset.root.parent)
        restoration = "held out"
    results: dict[str, ModeResult] = {}
    for mode in modes:
        with progress_bar(console, f"Truy vấn ({mode})") as update:
            results[mode] = run_mode(searcher, dataset, mode, update)
        result = results[mode]
        console.print(f"{mode}: {len(dataset.queries)} câu hỏi trong {result.seconds:.1f} s "
                      f"({len(dataset.queries) / max(result.seconds, 1e-9):.1f} câu/s)", highlight=False)
        if result.rejected:
            console.print(f"[yellow]{mode}: {len(result.rejected)} câu hỏi bị từ chối (tính 0 điểm).[/]")

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for mode, result in results.items():
        path = out_dir / f"run-{mode}.trec"
        write_trec_run(path, {q: [d.doc_id for d in docs] for q, docs in result.rankings.items()}, f"tracuu-{mode}")
        files[f"run_{mode}"] = path.name
    write_jsonl(out_dir / "failures.jsonl", (row for r in results.values() for row in failures(dataset, r)))
    plot_beir(out_dir / "plot.png", f"{dataset.name} / {dataset.split} ({len(dataset.queries)} câu hỏi)",
              {m: r.metrics for m, r in results.items()}, {m: r.curve for m, r in results.items()})
    files.update(failures="failures.jsonl", plot="plot.png", report="report.json")
    report = summary(dataset, results)
    report["details"] = {
        "dataset_dir": str(dataset.root.resolve()),
        "index": info.to_json(),
        "passages_per_query": DEPTH,
        "server_k": MAX_K,
        "restoration": restoration,  # of accentless questions: "held out" = uit's without their own counts
        "queries_without_qrels": dataset.without_qrels,
        "qrels_without_query": dataset.without_text,
        "seconds": {m: round(r.seconds, 2) for m, r in results.items()},
        "rejected": {m: r.rejected for m, r in results.items()},
        "under_100_documents": {m: r.short_lists for m, r in results.items()},
        "failures": {m: len(failures(dataset, r)) for m, r in results.items()},
        "recall_curve": {m: [round(v, 6) for v in r.curve] for m, r in results.items()},
        "files": files,
    }
    write_json(out_dir / "report.json", report)
    return report


def summary(dataset: Dataset, results: dict[str, ModeResult]) -> dict:
    """The short report: what `--json` prints."""
    return {
        "dataset": dataset.name,
        "split": dataset.split,
        "queries": len(dataset.queries),
        "modes": {m: {k: float(v) for k, v in r.metrics.items()} for m, r in results.items()},
    }
