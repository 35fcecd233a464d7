"""LexicalIndex.search (tracuu.core.topk's pruned top k) against the reference: bm25s's full scoring of
every passage (get_scores), ranked by score descending, then row ascending. Same rows, same scores, bit
for bit, whichever lists the pruning reads in full or only looks up."""

from __future__ import annotations

import numpy as np
import pytest

from tracuu.core import topk
from tracuu.core.lexical import LexicalIndex


def reference(index: LexicalIndex, tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    usable = index.usable(tokens)
    if not usable or k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    scores = index.bm25.get_scores(usable)
    order = np.lexsort((np.arange(len(scores)), -scores))[:k]
    order = order[scores[order] > 0]
    return order, scores[order]


def zipf_corpus(seed: int, docs: int, vocab: int) -> tuple[list[list[str]], np.random.Generator]:
    """Passages of Zipf-distributed tokens (a few in most passages, most in few), some passages
    repeated (equal scores), some very short or empty."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, vocab + 1) ** 1.1
    weights /= weights.sum()
    corpus = []
    for _ in range(docs):
        length = int(rng.integers(0, 60)) if rng.random() < 0.9 else int(rng.integers(0, 4))
        corpus.append([f"t{i}" for i in rng.choice(vocab, size=length, p=weights)])
    for i in rng.choice(docs, size=docs // 10, replace=False):  # exact copies: ties
        corpus[i] = list(corpus[int(rng.integers(docs))])
    return corpus, rng


def queries(rng: np.random.Generator, vocab: int, count: int) -> list[list[str]]:
    """Common and rare tokens, repeated tokens, tokens missing from the corpus."""
    out = []
    for _ in range(count):
        size = int(rng.integers(1, 30))
        tokens = [f"t{int(i)}" for i in np.minimum(rng.zipf(1.3, size=size) - 1, vocab - 1)]
        tokens += tokens[: int(rng.integers(0, 4))]  # repeats count again in bm25s
        if rng.random() < 0.3:
            tokens.append("không_có_trong_kho")
        out.append(list(rng.permutation(tokens)))
    return out


def assert_same(index: LexicalIndex, tokens: list[str], k: int) -> None:
    hits = index.search(tokens, k)
    rows, scores = reference(index, tokens, k)
    assert hits.rows.tolist() == rows.tolist(), (tokens, k)
    assert hits.scores.tobytes() == scores.astype(np.float32).tobytes(), (tokens, k)


@pytest.mark.parametrize("seed, docs", [(0, 300), (1, 2000), (2, 6000)])
def test_search_equals_full_scoring(seed, docs):
    corpus, rng = zipf_corpus(seed, docs, vocab=400)
    index = LexicalIndex.build(corpus)
    for tokens in queries(rng, 400, 60):
        for k in (1, 10, 50, docs + 5):  # k above the passages that match, and above N
            assert_same(index, tokens, k)


@pytest.mark.parametrize("dense, lookup_cost", [(0.05, 0.0), (0.2, 60.0), (0.5, 0.0), (0.05, 1e12), (1.0, 60.0)])
def test_every_split_between_reading_and_looking_up_gives_the_same_result(monkeypatch, dense, lookup_cost):
    """A low DENSE makes most lists candidates for lookups; LOOKUP_COST 0 then looks up all it may (on
    this corpus 70-75 of the 80 queries look lists up, at every setting but the last two), 1e12 reads
    every list; DENSE 1 reads every list in full."""
    corpus, rng = zipf_corpus(3, 4000, vocab=300)
    index = LexicalIndex.build(corpus)
    monkeypatch.setattr(topk, "DENSE", dense)
    monkeypatch.setattr(topk, "LOOKUP_COST", lookup_cost)
    for tokens in queries(rng, 300, 80):
        assert_same(index, tokens, 10)
        assert_same(index, tokens, 50)


def test_the_saved_and_memory_mapped_index_searches_the_same(tmp_path):
    corpus, rng = zipf_corpus(4, 1500, vocab=200)
    built = LexicalIndex.build(corpus)
    built.save(tmp_path / "lexical")
    loaded = LexicalIndex.load(tmp_path / "lexical")
    for tokens in queries(rng, 200, 40):
        assert_same(loaded, tokens, 20)
        assert loaded.search(tokens, 20).rows.tolist() == built.search(tokens, 20).rows.tolist()


def test_ties_go_to_the_lower_row_and_edge_cases():
    index = LexicalIndex.build([["a", "b"], ["c"], ["a", "b"], ["a", "b"], ["b", "c", "c"], []])
    hits = index.search(["a"], 2)
    assert hits.rows.tolist() == [0, 2]  # three equal scores: the two lowest rows, in row order
    assert index.search(["a", "a"], 10).rows.tolist() == [0, 2, 3]
    assert len(index.search(["zzz"], 10)) == 0 and len(index.search([], 10)) == 0
    assert len(index.search(["a"], 0)) == 0
    assert_same(index, ["c", "a", "c", "b"], 100)
