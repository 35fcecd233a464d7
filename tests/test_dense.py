"""tracuu.core.dense: the index type by size, recall against exact search, save/load (mapped), reconstruct;
and a tiny run of eval.scale."""

import json

import faiss
import numpy as np
import pytest

from tracuu.core import dense

DIM = 384


@pytest.fixture(scope="module")
def clustered():
    """5,000 normalized vectors from 50 Gaussian clusters, and 200 queries near them."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((50, DIM)).astype(np.float32)
    vectors = centres[rng.integers(50, size=5000)] + 0.6 * rng.standard_normal((5000, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.integers(5000, size=200)] + 0.05 * rng.standard_normal((200, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return vectors, queries


def recall_at_10(index, vectors, queries) -> float:
    _, exact = faiss.knn(queries, vectors, 10, faiss.METRIC_INNER_PRODUCT)
    _, found = index.search(queries, 10)
    return np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact.tolist(), found.tolist())])


def test_exact_up_to_the_threshold(clustered):
    vectors, queries = clustered
    index = dense.build_dense(vectors, n_exact=len(vectors))
    assert isinstance(index, faiss.IndexFlatIP)
    assert dense.search_params(index) == {"type": "flat"}
    assert recall_at_10(index, vectors, queries) == 1.0
    assert dense.N_EXACT >= 10_000  # the default keeps small corpora exact


def test_approximate_above_the_threshold(clustered):
    vectors, queries = clustered
    index = dense.build_dense(vectors, n_exact=1000)
    assert isinstance(index, faiss.IndexIVFScalarQuantizer)
    params = dense.search_params(index)
    assert params["type"] == "ivf" and 1 <= params["nprobe"] <= params["nlist"] < len(vectors) // 30
    assert params["codes"] == "8-bit" and "rerank" not in params
    assert index.ntotal == len(vectors)
    assert recall_at_10(index, vectors, queries) >= 0.95


@pytest.mark.parametrize("codes, rerank, kind", [("float32", False, faiss.IndexIVFFlat),
                                                  ("8-bit", True, faiss.IndexRefineFlat)])
def test_other_ivf_variants(clustered, tmp_path, codes, rerank, kind):
    vectors, queries = clustered
    index = dense.build_ivf(vectors, codes=codes, rerank=rerank)
    assert isinstance(index, kind)
    assert recall_at_10(index, vectors, queries) >= 0.95
    dense.save_dense(index, tmp_path / "dense.faiss")
    loaded = dense.load_dense(tmp_path / "dense.faiss")
    assert dense.search_params(loaded) == dense.search_params(index)
    np.testing.assert_array_equal(loaded.reconstruct_batch(np.arange(3, dtype=np.int64)), vectors[:3])  # exact


def test_hnsw_for_comparison(clustered):
    vectors, queries = clustered
    index = dense.build_hnsw(vectors, m=16, ef_construction=40, ef_search=64)
    assert dense.search_params(index) == {"type": "hnsw", "efSearch": 64}
    assert recall_at_10(index, vectors, queries) >= 0.95


@pytest.mark.parametrize("n_exact", [10_000, 1000], ids=["flat", "ivf"])
@pytest.mark.parametrize("mmap", [True, False], ids=["mmap", "read"])
def test_save_load_round_trip(clustered, tmp_path, n_exact, mmap):
    vectors, queries = clustered
    index = dense.build_dense(vectors, n_exact=n_exact)
    dense.save_dense(index, tmp_path / "dense.faiss")
    loaded = dense.load_dense(tmp_path / "dense.faiss", mmap=mmap)
    assert dense.search_params(loaded) == dense.search_params(index)  # nprobe travels with the file
    assert loaded.ntotal == len(vectors)
    before, after = index.search(queries, 50), loaded.search(queries, 50)
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_allclose(before[0], after[0], rtol=1e-6)
    rows = np.array([0, 17, 4999, 2500], dtype=np.int64)  # as Searcher._cited_first asks
    np.testing.assert_allclose(loaded.reconstruct_batch(rows), vectors[rows], atol=2e-3)  # 8-bit codes above


def test_search_params_can_be_changed_after_loading(clustered, tmp_path):
    vectors, queries = clustered
    dense.save_dense(dense.build_dense(vectors, n_exact=1000), tmp_path / "dense.faiss")
    loaded = dense.load_dense(tmp_path / "dense.faiss")
    dense.set_search_params(loaded, nprobe=1)
    assert dense.search_params(loaded)["nprobe"] == 1
    low = recall_at_10(loaded, vectors, queries)
    dense.set_search_params(loaded, nprobe=dense.search_params(loaded)["nlist"])  # every cell: exact
    assert recall_at_10(loaded, vectors, queries) >= 0.97 > low  # up to the 8-bit rounding


def test_scale_tiny_run(tmp_path):
    """eval.scale end to end at 2,000 and 5,000 passages, without the model (synthetic vectors)."""
    from eval import scale

    out = tmp_path / "scale"
    scale.main(["--sizes", "2000", "5000", "--out", str(out), "--synthetic-only", "--repeats", "1",
                "--latency-queries", "40", "--n-exact", "3000"])
    report = json.loads((out / "scale.json").read_text(encoding="utf-8"))
    assert [r["n"] for r in report["dense"]] == [2000, 5000]
    assert [r["params"]["type"] for r in report["dense"]] == ["flat", "ivf"]
    assert [r["n"] for r in report["exact"]] == [2000, 5000]
    assert [r["n"] for r in report["lexical"]] == [2000, 5000]
    for row in report["dense"]:
        assert {"build_s", "disk_mb", "load_s", "rss_loaded_mb", "rss_searched_mb", "p50_ms", "p95_ms",
                "recall@10"} <= row.keys()
        assert row["recall@10"] >= 0.9 and row["reconstruct_ok"]
        assert row["p50_ms"] > 0
        assert row["rss_searched_mb"]["VmRSS"] > 0
    assert report["dense"][1]["sweep"]  # nprobe against recall
    for row in report["lexical"]:
        assert {"build_s", "disk_mb", "load_s", "rss_searched_mb", "p50_ms", "p95_ms", "tokens"} <= row.keys()
    assert report["setup"]["base"]["synthetic"] is True
    assert (out / "scale.png").stat().st_size > 0 and (out / "scale.md").read_text().startswith("#")


def test_the_store_writes_ivf_when_large_and_reads_it_back(tmp_path, monkeypatch, clustered):
    """tracuu.core.store goes through build_dense: above the threshold it stores (and the reader searches)
    an IVF index, and the manifest says which."""
    from indexer import writer
    from indexer.documents import Document
    from indexer.passages import Passage
    from tracuu.core import store
    from tracuu.core.lexical import LexicalIndex
    from tracuu.core.registry import Registry

    vectors, queries = clustered
    n = 600
    monkeypatch.setattr(writer, "build_dense", lambda v: dense.build_dense(v, n_exact=100))
    texts = [f"đoạn số {i}" for i in range(n)]
    body = "\n".join(texts)
    passages, offset = [], 0
    for i, t in enumerate(texts):
        passages.append(Passage(id=f"d#{i}", doc_id="d", paragraph=i + 1, part=1, start=offset, end=offset + len(t),
                                text=t, kind="body", section=None))
        offset += len(t) + 1
    doc = Document(doc_id="d", source="d.txt", title="d", text=body, sha256="0", passages=passages)
    writer.write_version(tmp_path, [doc], vectors[:n], LexicalIndex.from_texts(texts), writer.Units([], np.zeros((0, DIM), np.float32)),
                        Registry(), {"model": {"name": "m", "id": "m", "dimension": DIM}})
    reader = store.IndexReader(tmp_path)
    assert reader.manifest["dense"]["type"] == "ivf"
    assert faiss.try_extract_index_ivf(reader.dense.index) is not None
    assert [reader.dense.search(v, 1).rows[0] for v in vectors[:5]] == [0, 1, 2, 3, 4]  # each vector finds itself
