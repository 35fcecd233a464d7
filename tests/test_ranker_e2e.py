"""The learned fusion inside the real searcher, on the seed index with the real model."""

from __future__ import annotations


def test_learned_and_rrf_searchers_on_the_seed_index(seed_index, encoder):
    from server.search import Searcher, load_ranker

    learned = Searcher(seed_index, encoder, load_ranker("learned"))
    rrf = learned.with_ranker(None)
    assert learned.ranker is not None and rrf.ranker is None
    query = "Bình Thuận có bao nhiêu tổ chức cơ sở đảng?"
    a, b = learned.search(query, k=10), rrf.search(query, k=10)
    assert "695 tổ chức cơ sở đảng" in " ".join(h.passage.text for h in a.hits[:3])
    assert sorted(h.passage.row for h in a.hits) != [] and len(a.hits) == len(b.hits) == 10
    assert [h.score for h in a.hits] == sorted((h.score for h in a.hits), reverse=True)
    # dense and lexical modes do not go through the ranker
    assert [h.passage.row for h in learned.search(query, 5, "dense").hits] == \
        [h.passage.row for h in rrf.search(query, 5, "dense").hits]
    # the reference fast path still puts the named regulation first
    first = learned.search("Quy định 58-QĐ/TW ban hành ngày nào?", k=3).hits
    assert any("ngày 8-2-2022" in h.passage.text for h in first)
