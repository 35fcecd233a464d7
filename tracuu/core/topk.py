"""Exact BM25 top k over bm25s's precomputed score matrix (CSC: token -> ascending rows, weights),
compiled with numba, skipping most of the densest posting lists.

Why: bm25s scores a query by adding every posting of every query token into N scores (np.add.at), then
search ranked all N. Questions are full of syllables found in most passages ("của", "được", "là", and
each one again without diacritics): at 1M passages a median question has 12.5M postings (100 MB to
read; 55 ms p50 in the scaling study). Reading them is the cost, not adding them, and the densest
lists weigh least (low IDF). So (a MaxScore-like pruning, exact):
1. the lists of tokens in at most DENSE of the passages are added up in full (float32 partial scores);
   theta, just below the k-th best partial score, is below the k-th best final score;
2. the dense lists, by bound descending (bound: the token's multiplicity times its column's largest
   weight): the first few are added in full, and the rest are only looked up (galloping) for the rows
   whose partial score plus the bounds of the lists not added can still reach theta. How many to add
   in full is chosen by a cost estimate (a lookup costs about LOOKUP_COST postings);
3. the rows that can still reach the k-th best sum get their exact score, added up as bm25s does
   (float32, in query order, a repeated token again), so scores are bit-identical to `get_scores`; the
   k best are ranked by score descending, then row ascending.
A pruning test widens theta by `margin`, more than float32 rounding can move a sum over the query's
tokens, so it never drops a row of the exact top k. Small indexes take the same path (microseconds).

Compiled functions are cached on disk (`cache=True`) and loaded when an index is opened (`warm_up`), so
no request compiles; they release the GIL, so concurrent searches run in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

DENSE = 0.5  # a list in more than this share of the passages may be looked up instead of read whole
LOOKUP_COST = 60.0  # one galloping lookup costs about as much as adding this many postings (measured)


@njit(cache=True, nogil=True)
def _seek(indices, p, end, row):
    """First position in [p, end) of the ascending `indices` holding a row >= `row` (end if none),
    galloping from p."""
    if p >= end or indices[p] >= row:
        return p
    low, step, high = p, 1, p + 1  # indices[low] < row
    while high < end and indices[high] < row:
        low, step = high, step * 2
        high = low + step
    high = min(high, end)
    low += 1
    while low < high:
        mid = (low + high) // 2
        if indices[mid] < row:
            low = mid + 1
        else:
            high = mid
    return low


@njit(cache=True, nogil=True)
def _push(heap, size, value):
    """Offer a value to a min-heap of the len(heap) largest values seen (root: the smallest of them);
    returns the new size. Once the heap is full most values fail the first comparison."""
    k = heap.shape[0]
    if size < k:
        i = size
        while i > 0 and heap[(i - 1) // 2] > value:  # sift up
            heap[i] = heap[(i - 1) // 2]
            i = (i - 1) // 2
        heap[i] = value
        return size + 1
    if value <= heap[0]:
        return size
    i = 0
    while 2 * i + 1 < k:  # replace the root, sift down
        child = 2 * i + 1
        if child + 1 < k and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= value:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = value
    return size


@njit(cache=True, nogil=True)
def _kth(partial, k):
    """The k-th largest value (0 if fewer than k positive values): one pass, through a k-entry heap
    once the first k are in; most values fail the comparison with its root."""
    heap = np.empty(k, dtype=partial.dtype)
    size, root = 0, 0.0
    for row in range(partial.shape[0]):
        if partial[row] > root:
            size = _push(heap, size, partial[row])
            if size == k:
                root = heap[0]
    return heap[0] if size == k else 0.0


@njit(cache=True, nogil=True)
def _add(data, indices, start, end, count, partial):
    for j in range(start, end):
        partial[indices[j]] += count * data[j]


@njit(cache=True, nogil=True)
def _split(partial, rest, lengths, dense, cut, lookup_cost):
    """How many of the dense lists to add in full (the rest are looked up): the cheapest estimate over
    the splits s where rest[s] < cut (a row that none of the lists read touches cannot reach cut)."""
    m = lengths.shape[0]
    first = dense
    while first < m and rest[first] >= cut:
        first += 1
    last = np.zeros(m + 1, dtype=np.int64)  # rows by the last split for which they stay candidates
    low = max(cut - rest[first], 1e-30)
    for row in range(partial.shape[0]):
        if partial[row] >= low:  # its last split s, where partial >= cut - rest[s] (rest decreases)
            lo, hi = first, m
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if partial[row] >= cut - rest[mid]:
                    lo = mid
                else:
                    hi = mid - 1
            last[lo] += 1
    added = 0
    for i in range(first, m):
        added += lengths[i]
    best, best_cost, alive = m, 1e300, 0
    for split in range(m, first - 1, -1):
        alive += last[split]
        cost = added + lookup_cost * alive * (m - split)
        if cost < best_cost:
            best, best_cost = split, cost
        if split > first:
            added -= lengths[split - 1]
    return best


@njit(cache=True, nogil=True)
def _candidates(data, indices, indptr, terms, counts, bounds, dense, num_docs, k, margin, lookup_cost):
    """Rows (ascending) that may be in the top k, with their sums (float64, close to but not exactly
    the final scores): steps 1 and 2. terms[:dense] are read in full; terms[dense:] are the dense ones,
    by bound descending; counts: multiplicities; bounds: the most each adds to a row's score."""
    m = terms.shape[0]
    partial = np.zeros(num_docs, dtype=np.float32)
    for i in range(dense):
        _add(data, indices, indptr[terms[i]], indptr[terms[i] + 1], counts[i], partial)
    rest = np.zeros(m + 1)  # rest[s]: the most the dense lists s.. can add
    for s in range(m - 1, dense - 1, -1):
        rest[s] = rest[s + 1] + bounds[s] * (1 + margin)
    theta = _kth(partial, k) * (1 - margin)  # k rows score at least theta
    cut = theta * (1 - margin) / (1 + margin)  # a row whose bound stays below cut scores below theta
    lengths = indptr[terms + 1] - indptr[terms]
    split = _split(partial, rest, lengths, dense, cut, lookup_cost) if dense < m else m
    for i in range(dense, split):
        _add(data, indices, indptr[terms[i]], indptr[terms[i] + 1], counts[i], partial)
    found = np.empty(num_docs, dtype=np.int64)  # pages never written cost nothing
    count, low = 0, max(cut - rest[split], 1e-30)
    for row in range(num_docs):
        if partial[row] >= low:
            found[count] = row
            count += 1
    rows = found[:count].copy()
    sums = partial[rows].astype(np.float64)
    for i in range(split, m):  # look the candidates up in the remaining dense lists
        p, end = indptr[terms[i]], indptr[terms[i] + 1]
        for c in range(rows.shape[0]):
            p = _seek(indices, p, end, rows[c])
            if p < end and indices[p] == rows[c]:
                sums[c] += counts[i] * data[p]
    return rows, sums


@njit(cache=True, nogil=True)
def _exact(data, indices, indptr, ids, rows):
    """The scores of `rows` (ascending) as bm25s adds them up: float32, in query order, a repeated token
    again (step 3)."""
    out = np.zeros(rows.shape[0], dtype=data.dtype)
    for t in ids:
        p, end = indptr[t], indptr[t + 1]
        for n in range(rows.shape[0]):
            p = _seek(indices, p, end, rows[n])
            if p < end and indices[p] == rows[n]:
                out[n] += data[p]
    return out


class TopK:
    """The exact top k of one bm25s score matrix. The largest weight of a token's column is computed when
    a query first uses the token (all of them at load would read the whole matrix)."""

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, num_docs: int):
        self.data, self.indices, self.indptr, self.num_docs = data, indices, indptr, num_docs
        self.column_max = np.full(len(indptr) - 1, np.nan)
        self.warm_up()

    def bounds(self, terms: np.ndarray) -> np.ndarray:
        """The largest weight of each token's column (memoized; a race only computes one twice)."""
        for t in terms[np.isnan(self.column_max[terms])].tolist():
            start, end = int(self.indptr[t]), int(self.indptr[t + 1])
            self.column_max[t] = float(self.data[start:end].max()) if end > start else 0.0
        return self.column_max[terms]

    def search(self, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the k best rows with a positive score for these token ids (in query order,
        repeats count again, as in bm25s): score descending, then row ascending."""
        ids = np.asarray(ids, dtype=np.int64)
        if k <= 0 or not len(ids):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=self.data.dtype)
        terms, counts = np.unique(ids, return_counts=True)
        bounds = counts * self.bounds(terms)
        is_dense = self.indptr[terms + 1] - self.indptr[terms] > DENSE * self.num_docs
        dense = np.flatnonzero(is_dense)
        order = np.concatenate([np.flatnonzero(~is_dense), dense[np.argsort(-bounds[dense], kind="stable")]])
        # rounding: a float32 sum of n terms is within n * 2^-24 of the real sum, and so are the partial
        # scores (float32 too) and the products count * weight
        margin = 1e-6 + 4 * len(ids) * 2.0 ** -24
        k = min(k, self.num_docs)
        rows, sums = _candidates(self.data, self.indices, self.indptr, terms[order], counts[order].astype(np.float32),
                                 bounds[order], len(order) - len(dense), self.num_docs, k, margin, float(LOOKUP_COST))
        if len(rows) > k:  # only the rows that can still reach the k-th best sum
            kth = np.partition(sums, len(sums) - k)[len(sums) - k]
            rows = rows[sums * (1 + margin) >= kth * (1 - margin)]
        scores = _exact(self.data, self.indices, self.indptr, ids, rows)
        rows, scores = rows[scores > 0], scores[scores > 0]
        best = np.lexsort((rows, -scores))[:k]
        return rows[best], scores[best]

    def warm_up(self) -> None:
        """Compile the functions for these arrays' types, or load them from numba's cache (~3 s to
        compile on this machine, ~0.1 s to load)."""
        empty = np.zeros(0, dtype=np.int64)
        _candidates(self.data, self.indices, self.indptr, empty, np.zeros(0, dtype=np.float32), np.zeros(0), 0, 0, 1, 0.0,
                    float(LOOKUP_COST))
        _exact(self.data, self.indices, self.indptr, empty, empty)
