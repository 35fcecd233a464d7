"""`tracuu bench`: how fast the product is where users feel it, measured for real.

- indexing throughput (passages/s) of each encoder backend on the seed corpus, and on the start of
  alqac-legal's corpus when ../shared/benchmarks is present;
- a real `tracuu serve` in its own process: seconds from start to the first answered query, then
  load from a separate process (eval.loadgen) with 1, 8 and 32 concurrent clients: throughput and
  p50/p95/p99, with queries new to every cache; the median time of each query stage; the server's
  peak resident memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from eval.live_server import TRACUU, free_port, serve, start
from indexer.build import build_index, embedding_text
from indexer.documents import read_corpus
from indexer.embedding_cache import EmbeddingCache
from tracuu.core.encoders.select import load_encoder, load_indexing_encoder
from tracuu.settings import Settings

BACKENDS = ("torch", "onnx-fp32", "onnx-int8")
GOLD = Path(__file__).with_name("gold.jsonl")


def _seed_texts(settings: Settings) -> list[str]:
    documents, _ = read_corpus(settings.corpus_dir)
    titles = {d.doc_id: d.title for d in documents}
    return [embedding_text(titles[p.doc_id], p.section, p.text) for d in documents for p in d.passages]


def _alqac_texts(settings: Settings, limit: int) -> list[str]:
    corpus = settings.benchmarks / "alqac-legal" / "corpus.jsonl"
    if not corpus.is_file():
        return []
    texts = []
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            texts.append(f"{record.get('title', '')}\n{record['text']}"[:1500])
            if len(texts) >= limit:
                break
    return texts


def indexing_throughput(settings: Settings, backends=BACKENDS, alqac_limit: int = 300) -> list[dict]:
    """passages/s of a full (uncached) embedding pass, per backend and corpus."""
    corpora = {"seed": _seed_texts(settings), "alqac-legal": _alqac_texts(settings, alqac_limit)}
    rows = []
    for backend in backends:
        encoder = load_encoder(settings.model, settings.models_dir, backend, settings.onnx_quant)
        encoder.encode_passages(corpora["seed"][:8])  # warm-up
        for name, texts in corpora.items():
            if not texts:
                continue
            started = time.perf_counter()
            encoder.encode_passages(texts)
            seconds = time.perf_counter() - started
            rows.append({"backend": backend, "corpus": name, "passages": len(texts),
                         "seconds": round(seconds, 2), "passages_per_s": round(len(texts) / seconds, 1)})
    return rows


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _loadgen(url: str, clients: int, requests: int, queries_file: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "eval.loadgen", "--url", url, "--clients", str(clients),
         "--requests", str(requests), "--queries", str(queries_file)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout)


def serving(settings: Settings, backend: str, requests: int, clients=(1, 8, 32), work_dir: Path | None = None) -> dict:
    work = Path(work_dir or tempfile.mkdtemp(prefix="tracuu-bench-"))
    index_dir = work / "index"
    if read_index_missing(index_dir) or settings.postgres:
        encoder = load_indexing_encoder(settings.model, settings.models_dir, settings.index_backend, settings.onnx_quant)
        build_index(settings.corpus_dir, index_dir, encoder, EmbeddingCache(settings.embedding_cache),
                    store=settings.postgres)
    questions = [json.loads(line)["question"] for line in GOLD.open(encoding="utf-8")]
    queries_file = work / "queries.json"
    queries_file.write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    # Ready means a first question answered (model loaded, warm), not just /healthz.
    ready = "/api/search?" + urlencode({"q": "Bình Thuận có bao nhiêu dân?"})
    env = {**os.environ, "TRACUU_BACKEND": backend}
    if settings.postgres:  # the same server over the PostgreSQL store (docs/cluster.md)
        proc = start([str(TRACUU), "serve", "--store", settings.postgres, "--port", str(port)], port, ready=ready,
                     poll_s=0.05, env=env)
    else:
        proc = serve(index_dir, port, ready=ready, poll_s=0.05, env=env)
    first = time.perf_counter() - started
    try:
        loads = [_loadgen(url, n, requests if n == 1 else requests * 2, queries_file) for n in clients]
        return {"backend": backend, "store": "postgresql" if settings.postgres else "embedded", "first_answer_s": round(first, 2), "loads": loads,
                "peak_rss_mb": _peak_rss_mb(proc.pid)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def read_index_missing(index_dir: Path) -> bool:
    return not (index_dir / "current").exists()


def run_bench(settings: Settings, backends=BACKENDS, serve_backend: str = "auto", requests: int = 200,
              alqac_limit: int = 300, skip_indexing: bool = False) -> dict:
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cores": os.cpu_count()},
        "indexing": [] if skip_indexing else indexing_throughput(settings, backends, alqac_limit),
        "serving": serving(settings, serve_backend, requests),
    }
