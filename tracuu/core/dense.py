"""The dense index: exact inner-product search while it is fast enough, an IVF index above that.

Vectors are L2-normalized float32, so inner product = cosine. Measured with `python -m eval.scale`
(docs/scale.md), 2 shared cores, dim 384:
- exact search (IndexFlatIP) costs about 1 ms per query per 25k vectors, so it passes a few ms near
  N_EXACT; below, it is exact, has nothing to tune and builds instantly.
- above, IndexIVFFlat (nlist about 2·√N coarse cells, nprobe cells searched) reaches recall@10 ≥ 0.95
  against exact search at 1M passages in a few ms; it builds several times faster than HNSW and, unlike
  HNSW, its lists are flat arrays that map from disk (see docs/scale.md for the comparison).
- every type keeps `reconstruct_batch` working (IVF through its direct map).

`load_dense(path, mmap=True)` maps the vectors from the file (faiss's IO_FLAG_MMAP_IFC, which this
faiss version supports for IndexFlat, IndexHNSWFlat and IndexIVFFlat), so loading is instant and the
server's anonymous memory does not grow with the corpus; the pages it touches are page cache, shared
and reclaimable.
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

from tracuu.core.hits import Hits

N_EXACT = 30_000  # up to this many vectors: exact search
CELLS_PER_SQRT_N = 2  # IVF: nlist = 2·√N coarse cells ...
TRAIN_PER_CELL = 40  # ... trained by k-means on 40 vectors per cell (faiss warns below 39)
NPROBE_MIN, NPROBE_SHARE = 24, 1 / 32  # cells searched: max(24, nlist/32) (24 at 100k, 62 at 1M), stored in the file
RERANK = 2  # with rerank, the 8-bit search returns RERANK·k candidates, re-scored exactly
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 64  # only for comparison (eval.scale --compare)
SEARCH_THREADS = 1


def build_dense(vectors: np.ndarray, n_exact: int = N_EXACT) -> faiss.Index:
    """The index for these (normalized) vectors: exact up to n_exact of them, IVF above."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) <= n_exact:
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return index
    return build_ivf(vectors)


def build_ivf(vectors: np.ndarray, nlist: int | None = None, nprobe: int | None = None, codes: str = "8-bit",
              rerank: bool = False, seed: int = 1234) -> faiss.Index:
    """IVF over inner product. codes "8-bit": one byte per dimension, 4x less to scan and to hold than
    "float32"; scores and `reconstruct` are then within about 1e-3 of exact. rerank keeps the float32
    vectors too and re-scores the candidates with them (exact scores, faster at equal recall, but
    4x more file; eval.scale --compare)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    nlist = nlist or max(1, min(n // TRAIN_PER_CELL, round(CELLS_PER_SQRT_N * math.sqrt(n))))
    quantizer = faiss.IndexFlatIP(dim)
    if codes == "8-bit":  # not by residual: the codes are of the vector itself
        ivf = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                            faiss.METRIC_INNER_PRODUCT, False)
    else:
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.cp.seed = seed
    ivf.nprobe = min(nlist, nprobe or max(NPROBE_MIN, round(nlist * NPROBE_SHARE)))
    index = ivf
    if rerank:
        index = faiss.IndexRefineFlat(ivf)
        index.k_factor = RERANK
    else:
        ivf.set_direct_map_type(faiss.DirectMap.Array)  # reconstruct / reconstruct_batch by row
    sample = np.random.default_rng(seed).choice(n, size=min(n, TRAIN_PER_CELL * nlist), replace=False)
    index.train(vectors[np.sort(sample)])
    index.add(vectors)
    return index


def build_hnsw(vectors: np.ndarray, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION,
               ef_search: int = HNSW_EF_SEARCH) -> faiss.IndexHNSWFlat:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.hnsw.efSearch = ef_search
    index.add(vectors)
    return index


class DenseIndex:
    """A loaded FAISS index over passage rows; the query side's only way to it."""

    def __init__(self, index: faiss.Index):
        self.index = index

    @classmethod
    def load(cls, path: Path, mmap: bool = True) -> "DenseIndex":
        return cls(load_dense(path, mmap))

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def search(self, vector: np.ndarray, k: int) -> Hits:
        """The k passages closest to one (normalized) query vector, best first."""
        k = min(k, self.size)
        if k <= 0:
            return Hits.empty()
        scores, rows = self.index.search(np.ascontiguousarray(vector[None, :], dtype=np.float32), k)
        keep = rows[0] >= 0
        return Hits(rows[0][keep].astype(np.int64), scores[0][keep])

    def vectors(self, rows) -> np.ndarray:
        """The stored vectors of these rows (within ~1e-3 of exact for 8-bit IVF)."""
        return self.index.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def scores_of(self, vector: np.ndarray, rows) -> np.ndarray:
        """Inner products of the query vector with these rows: their exact scores on the dense side."""
        return self.vectors(rows) @ vector

    def params(self) -> dict:
        return search_params(self.index)


def save_dense(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_dense(path: Path, mmap: bool = True) -> faiss.Index:
    """Read an index written by save_dense; with mmap the vectors stay in the file (read-only)."""
    if mmap:
        try:
            return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        except RuntimeError:  # a type this faiss cannot map: read it into memory
            pass
    return faiss.read_index(str(path))


def search_params(index: faiss.Index) -> dict:
    """What the index is and the search-time settings it carries (all stored in the file)."""
    inner = faiss.downcast_index(index)
    if isinstance(inner, faiss.IndexHNSW):
        return {"type": "hnsw", "efSearch": int(inner.hnsw.efSearch)}
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None:
        return {"type": "flat"}
    codes = "8-bit" if isinstance(faiss.downcast_index(ivf), faiss.IndexIVFScalarQuantizer) else "float32"
    params = {"type": "ivf", "nlist": int(ivf.nlist), "nprobe": int(ivf.nprobe), "codes": codes}
    if isinstance(inner, faiss.IndexRefine):
        params["rerank"] = float(inner.k_factor)
    return params


def set_search_threads(threads: int = SEARCH_THREADS) -> None:
    """FAISS's OpenMP threads in this process; the server calls this once. One query at a time
    gains nothing from a second thread, and on a busy machine waiting for it made a 0.6 ms search take
    15-30 ms (docs/scale.md). Building (many vectors at once) does use all cores: not in the server."""
    faiss.omp_set_num_threads(threads)


def set_search_params(index: faiss.Index, nprobe: int | None = None, ef_search: int | None = None) -> None:
    """Change the speed/recall trade-off of a loaded index (ignored where it does not apply)."""
    ivf = faiss.try_extract_index_ivf(index)
    if nprobe is not None and ivf is not None:
        ivf.nprobe = nprobe
    inner = faiss.downcast_index(index)
    if ef_search is not None and isinstance(inner, faiss.IndexHNSW):
        inner.hnsw.efSearch = ef_search
