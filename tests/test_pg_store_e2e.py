"""The PostgreSQL store against real servers: `scripts/cluster up` starts a coordinator and two shards,
the seed corpus and a benchmark corpus are published into it, and the answers are compared with the
embedded index built from the same vectors (the reference)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from eval.live_server import TRACUU, free_port, start
from tests.conftest import CORPUS, REPO, SETTINGS
from tracuu.core.pg.schema import connect, shards, table_suffix

SCRIPT = REPO / "scripts" / "cluster"
# The benchmark sets sit beside the checkout (../shared/benchmarks); a clone elsewhere finds them there.
UIT = next((root / "uit-regulations-qa" for root in (SETTINGS.benchmarks, REPO.parent / "shared" / "benchmarks",
                                                      Path("/work/shared/benchmarks"))
            if (root / "uit-regulations-qa").is_dir()), SETTINGS.benchmarks / "uit-regulations-qa")


def free_ports(n: int) -> int:
    """A base port with n free consecutive ports after it (the coordinator and its shards)."""
    for _ in range(100):
        base = random.randint(20000, 60000)
        try:
            for port in range(base, base + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports")


def cluster_command(env: dict, *args: str) -> str:
    done = subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def cluster():
    """A real coordinator with two shards on loopback; yields (coordinator URL, the script's environment)."""
    folder = Path(f"/tmp/tracuu-test-cluster-{os.getpid()}")
    shutil.rmtree(folder, ignore_errors=True)
    env = {**os.environ, "TRACUU_CLUSTER_DIR": str(folder), "TRACUU_CLUSTER_PORT": str(free_ports(3))}
    url = cluster_command(env, "up", "--shards", "2").strip().splitlines()[-1]
    assert url.startswith("postgresql://")
    yield url, env
    cluster_command(env, "down")


@pytest.fixture(scope="module")
def uit_pair(cluster, encoder, tmp_path_factory):
    """The uit-regulations-qa corpus built once into a folder and published into the cluster."""
    from eval.beir import load_dataset, read_records
    from indexer.build import build_from_documents
    from indexer.embedding_cache import EmbeddingCache

    data = load_dataset(UIT, "dev")
    index_dir = tmp_path_factory.mktemp("uit-index")
    build_from_documents(read_records(data.corpus)[0], index_dir, encoder, EmbeddingCache(SETTINGS.embedding_cache),
                         store=cluster[0])
    return data, index_dir, cluster[0]


def test_every_passage_is_on_exactly_one_shard(uit_pair):
    from tracuu.core.pg.reader import PgReader

    _, _, url = uit_pair
    reader = PgReader(url)
    with connect(url) as coord:
        servers = shards(coord)
    held = []
    for shard in servers:
        with connect(shard.url("tracuu")) as conn:
            rows = {r[0] for r in conn.execute(f"SELECT row FROM passages_{reader.v}")}
            # a passage's postings and answer units live on its shard
            assert {r[0] for r in conn.execute(f"SELECT DISTINCT row FROM postings_{reader.v}")} <= rows
            assert {r[0] for r in conn.execute(f"SELECT DISTINCT passage_row FROM units_{reader.v}")} <= rows
        assert rows, f"{shard.name} holds no passage"
        held.append(rows)
    assert len(servers) == 2
    assert set.union(*held) == set(range(reader.size))
    assert sum(len(h) for h in held) == reader.size  # no passage twice


def test_a_documents_passages_are_those_of_the_embedded_index(uit_pair):
    """rows_of_documents (the regulation fast path's "every passage of an article about it")."""
    from tracuu.core.pg.reader import PgReader
    from tracuu.core.store import IndexReader

    _, index_dir, url = uit_pair
    embedded, postgres = IndexReader(index_dir), PgReader(url)
    docs = sorted({doc for doc, _, _ in embedded.documents()})[:3]
    rows = embedded.rows_of_documents(docs)
    assert rows and postgres.rows_of_documents(docs) == rows
    assert {p.doc_id for p in embedded.passages(rows)} == set(docs)


def test_rankings_equal_the_embedded_index(uit_pair, encoder):
    """Same top 10 for ≥ 99 % of the dev questions, hit@1 within one question, each side and fused."""
    from eval.beir import QueryMemo
    from server.search import Searcher, load_ranker

    data, index_dir, url = uit_pair
    memo = QueryMemo(encoder)
    embedded = Searcher(index_dir, memo, load_ranker("learned"))
    postgres = Searcher(url, memo, load_ranker("learned"))
    gold = {qid: set(docs) for qid, docs in data.qrels.items()}
    for mode in ("lexical", "dense", "hybrid"):
        same, hits = 0, [0, 0]
        for qid, question in data.queries.items():
            tops = [s.search(question, k=10, mode=mode, answers=False) for s in (embedded, postgres)]
            ids = [[h.passage.id for h in t.hits] for t in tops]
            same += ids[0] == ids[1]
            for i, t in enumerate(tops):
                hits[i] += bool(t.hits) and t.hits[0].passage.doc_id in gold.get(qid, ())
        assert same >= 0.99 * len(data.queries), (mode, same, len(data.queries))
        assert abs(hits[0] - hits[1]) <= 1, (mode, hits)


def test_bm25_in_sql_scores_like_bm25s(uit_pair):
    from tracuu.core.pg.reader import PgReader
    from tracuu.core.query import Query
    from tracuu.core.store import IndexReader

    data, index_dir, url = uit_pair
    embedded, postgres = IndexReader(index_dir), PgReader(url)
    for question in list(data.queries.values())[:50]:
        tokens = [*Query.parse(question).tokens, "không_có_trong_kho"]
        a, b = embedded.lexical.search(tokens, 20), postgres.lexical.search(tokens, 20)
        np.testing.assert_allclose(b.scores, a.scores, rtol=1e-5)
        rows = a.rows.tolist()
        np.testing.assert_allclose(postgres.lexical.scores_of(tokens, rows), embedded.lexical.scores_of(tokens, rows),
                                   rtol=1e-5)
        assert postgres.lexical.known_share(tokens) == embedded.lexical.known_share(tokens)


def test_citations_are_exact(uit_pair, encoder):
    from server.search import Searcher

    data, _, url = uit_pair
    searcher = Searcher(url, encoder)
    for question in list(data.queries.values())[:20]:
        for hit in searcher.search(question, k=5).hits:
            p = hit.passage
            assert searcher.reader.document_text(p.doc_id)[p.start:p.end] == p.text
            if hit.answer:
                assert p.start <= hit.answer.start < hit.answer.end <= p.end


# ---- a real `tracuu serve` over the cluster: health, a shard down and back, a killed build ----

@pytest.fixture(scope="module")
def served(cluster, tmp_path_factory):
    url, env = cluster
    index_dir = tmp_path_factory.mktemp("seed-for-pg")
    corpus = tmp_path_factory.mktemp("corpus")
    for f in CORPUS.iterdir():
        shutil.copy(f, corpus / f.name)
    done = subprocess.run([str(TRACUU), "index", "--corpus", str(corpus), "--index", str(index_dir), "--store", url],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    port = free_port()
    proc = start([str(TRACUU), "serve", "--store", url, "--port", str(port)], port, timeout_s=180)
    yield f"http://127.0.0.1:{port}", url, env, corpus, index_dir
    proc.terminate()
    proc.wait(timeout=20)


def test_healthz_lists_the_shards(served):
    base, *_ = served
    health = httpx.get(f"{base}/healthz").json()
    assert health["store"] == "postgresql" and health["status"] == "ok"
    assert [s["name"] for s in health["shards"]] == ["shard1", "shard2"]
    assert all(s["status"] == "up" and s["passages"] > 0 for s in health["shards"])
    assert sum(s["passages"] for s in health["shards"]) == health["passages"]


@pytest.mark.parametrize("question", [
    "Sau 5 năm thực hiện Chỉ thị 39, bao nhiêu đảng viên bị kỷ luật?",  # an article about the document
    "Quy định 58-QĐ/TW ban hành ngày nào?",
    "QĐ 126 do ai ban hành?",
])
def test_questions_naming_a_document_rank_as_in_the_embedded_index(served, encoder, question):
    """The regulation fast path through PostgreSQL (rows_of_documents, the rest of the question's vector)."""
    from server.search import Searcher, load_ranker

    _, url, _, _, index_dir = served
    ranker = load_ranker("learned")
    embedded = Searcher(index_dir, encoder, ranker).search(question, k=5)
    postgres = Searcher(url, encoder, ranker).search(question, k=5)
    assert embedded.references and [e.key for e in postgres.references] == [e.key for e in embedded.references]
    assert [h.passage.id for h in postgres.hits] == [h.passage.id for h in embedded.hits]


def test_a_stopped_shard_is_a_503_and_its_return_needs_no_restart(served):
    base, _, env, *_ = served
    question = {"q": "Bình Thuận có bao nhiêu dân?"}
    assert httpx.get(f"{base}/api/search", params=question).status_code == 200
    cluster_command(env, "stop", "2")
    try:
        started = time.monotonic()
        answer = httpx.get(f"{base}/api/search", params=question, timeout=30)
        assert time.monotonic() - started < 5
        assert answer.status_code == 503
        assert "shard2" in answer.json()["detail"] and "thử lại" in answer.json()["detail"]
        page = httpx.get(f"{base}/", params=question, timeout=30)
        assert page.status_code == 503 and "shard2" in page.text
        health = httpx.get(f"{base}/healthz", timeout=30)
        assert health.status_code == 503
        assert {s["name"]: s["status"] for s in health.json()["shards"]} == {"shard1": "up", "shard2": "down"}
    finally:
        cluster_command(env, "start", "2")
    answer = httpx.get(f"{base}/api/search", params=question, timeout=30)
    assert answer.status_code == 200 and answer.json()["results"]
    assert httpx.get(f"{base}/healthz").json()["status"] == "ok"


def unpublished_tables(url: str) -> list[str]:
    with connect(url) as conn:
        published = {table_suffix(r[0]) for r in conn.execute("SELECT version FROM tracuu_versions")}
        names = [r[0] for r in conn.execute("SELECT relname FROM pg_class WHERE relname ~ '^(passages|terms)_'")]
    return [n for n in names if n.split("_", 1)[1].split("_s")[0] not in published and not n.endswith("_pkey")]


def test_a_build_killed_while_publishing_leaves_the_published_version(served):
    base, url, env, corpus, index_dir = served
    before = httpx.get(f"{base}/healthz").json()["index_version"]
    (corpus / "extra.txt").write_text("Tiêu đề mới\n\nMột đoạn văn mới về thủ tục hành chính.\n", encoding="utf-8")
    build = subprocess.Popen([str(TRACUU), "index", "--corpus", str(corpus), "--index", str(index_dir), "--store", url],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not unpublished_tables(url) and build.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert build.poll() is None, "the build finished before it could be killed while publishing"
    build.send_signal(signal.SIGKILL)
    build.wait()
    assert unpublished_tables(url)  # half-written tables, unknown to readers
    time.sleep(2)  # the server's reload check runs every second
    assert httpx.get(f"{base}/healthz").json()["index_version"] == before
    assert httpx.get(f"{base}/api/search", params={"q": "Bình Thuận có bao nhiêu dân?"}).status_code == 200
    # the next build publishes and clears what the killed one left
    done = subprocess.run([str(TRACUU), "index", "--corpus", str(corpus), "--index", str(index_dir), "--store", url],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not unpublished_tables(url)
    deadline = time.monotonic() + 10
    while httpx.get(f"{base}/healthz").json()["index_version"] == before and time.monotonic() < deadline:
        time.sleep(0.3)
    assert httpx.get(f"{base}/healthz").json()["index_version"] != before


def shard_processes(env: dict, number: int) -> list[int]:
    """The PostgreSQL processes of shard `number`: its postmaster and every child."""
    folder = Path(env["TRACUU_CLUSTER_DIR"]) / f"shard{number}"
    postmaster = int((folder / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
    return [postmaster, *map(int, children)]


def test_a_hanging_shard_is_a_503_within_5_s_not_a_hang(served):
    """SIGSTOP freezes the shard's processes: connections stay open and nothing answers."""
    base, _, env, *_ = served
    question = {"q": "Tỉnh Bình Thuận có bao nhiêu dân?"}
    assert httpx.get(f"{base}/api/search", params=question).status_code == 200
    frozen = shard_processes(env, 1)
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        answer = httpx.get(f"{base}/api/search", params={"q": "Ai là tác giả bài viết?"}, timeout=30)
        assert time.monotonic() - started < 5.5
        assert answer.status_code == 503 and "thử lại" in answer.json()["detail"]
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 30
    while httpx.get(f"{base}/api/search", params=question, timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the search did not recover after the shard woke up"
        time.sleep(0.5)
