"""The learned fusion (server/ranker.py): features against exact references, the model file, and (e2e)
the searcher using it on the seed index."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import pytest

from server.fusion import reciprocal_rank_fusion
from server.ranker import CANDIDATES, FEATURES, MODEL_PATH, LearnedFusion, candidate_features
from tracuu.core.dense import DenseIndex
from tracuu.core.lexical import LexicalIndex
from tracuu.core.query import Query

TEXTS = [
    "Sinh viên phải đạt chuẩn đầu ra tiếng Anh trước khi tốt nghiệp.",
    "Học phí được đóng theo từng học kỳ tại phòng kế hoạch tài chính.",
    "Sinh viên bị cảnh báo học vụ khi điểm trung bình dưới 1,0.",
    "Lớp học phần đại cương có tối thiểu 50 sinh viên.",
    "Ấn Độ Dương bao phủ 20% diện tích mặt nước trên Trái Đất.",
    "Chuẩn đầu ra tiếng Nhật là JLPT N3, tiếng Pháp là DELF B1.",
    "Sinh viên được xét tốt nghiệp khi tích lũy đủ tín chỉ.",
    "Điểm rèn luyện được đánh giá vào cuối mỗi học kỳ.",
]
TEXT = "chuẩn đầu ra tiếng Anh của sinh viên"
QUERY = Query(TEXT)
COL = {name: i for i, name in enumerate(FEATURES)}


@dataclass
class FakePassage:
    row: int
    text: str
    title: str
    doc_id: str
    start: int = 0


class FakeReader:
    """What candidate_features reads from an IndexReader: dense, lexical, version, passages()."""

    def __init__(self, texts=TEXTS, dim=16, seed=0):
        rng = np.random.default_rng(seed)
        vectors = rng.normal(size=(len(texts), dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        flat = faiss.IndexFlatIP(dim)
        flat.add(vectors)
        self.dense = DenseIndex(flat)
        self.lexical = LexicalIndex.from_texts(texts)
        self.texts = texts
        self.version = Path("/fake/v1")
        self.query_vector = vectors[0] + 0.5 * vectors[5]
        self.query_vector /= np.linalg.norm(self.query_vector)
        # Answer units: one per passage (its own vector), and passage 1 has a second unit equal to the query.
        self.unit_vectors = np.vstack([vectors, self.query_vector[None, :]]).astype(np.float32)
        self.units = {r: [(r, 0, len(t))] for r, t in enumerate(texts)}
        split = texts[1].index(" tại ")
        self.units[1] = [(1, 0, split), (len(texts), split + 1, len(texts[1]))]

    def unit_scores(self, units, vector):
        return self.unit_vectors[units] @ vector

    def unit_spans(self, rows):
        return {r: self.units[r] for r in rows}

    def passages(self, rows):
        return [FakePassage(r, self.texts[r], "Quy chế đào tạo" if r < 4 else "", f"doc{r}") for r in rows]


@pytest.fixture(scope="module")
def reader():
    return FakeReader()


def lists(reader, n_dense=3, n_lexical=3):
    """Short top lists, as the searcher would pass them, so that some candidates miss one side."""
    return reader.dense.search(reader.query_vector, n_dense), reader.lexical.search(QUERY.tokens, n_lexical)


def test_bm25_of_some_rows_equals_full_scoring(reader):
    tokens = Query(TEXT + " sinh viên").tokens  # a repeated token counts twice
    full = reader.lexical.bm25.get_scores(reader.lexical.usable(tokens))  # bm25s itself: the reference
    rows = np.array([7, 0, 3, 5, 4])
    assert np.allclose(reader.lexical.scores_of(tokens, rows), full[rows], atol=1e-5)
    assert full[rows].max() > 0 and (full[rows] == 0).any()  # both matching and non-matching rows


def test_dense_scores_of_rows_equal_search_scores(reader):
    hits = reader.dense.search(reader.query_vector, len(TEXTS))
    assert np.allclose(reader.dense.scores_of(reader.query_vector, hits.rows), hits.scores, atol=1e-5)
    assert list(hits.scores) == sorted(hits.scores, reverse=True)


def test_features_shape_and_finite(reader):
    dense, lexical = lists(reader)
    rows, x = candidate_features(reader, QUERY, reader.query_vector, dense, lexical, 1.5, 0.75)
    assert rows == list(dict.fromkeys(dense.rows.tolist() + lexical.rows.tolist()))
    assert x.shape == (len(rows), len(FEATURES))
    assert np.isfinite(x).all()
    assert (x[:, COL["known_share"]] == 0.75).all()


def test_missing_candidates_get_their_exact_scores(reader):
    dense, lexical = lists(reader)
    rows, x = candidate_features(reader, QUERY, reader.query_vector, dense, lexical, 1.5, 0.75)
    only_dense = [i for i, r in enumerate(rows) if r not in dict(lexical.pairs())]
    only_lexical = [i for i, r in enumerate(rows) if r not in dict(dense.pairs())]
    assert only_dense and only_lexical, "the fixture must leave candidates out of each list"
    all_dense = reader.dense.index.reconstruct_n(0, len(TEXTS)) @ reader.query_vector
    all_lexical = reader.lexical.bm25.get_scores(reader.lexical.usable(QUERY.tokens))
    for i, row in enumerate(rows):
        assert x[i, COL["dense_score"]] == pytest.approx(all_dense[row], abs=1e-5)
        assert x[i, COL["lex_score"]] == pytest.approx(all_lexical[row], abs=1e-5)
    for i in only_dense:
        assert x[i, COL["lex_rank"]] == CANDIDATES + 1
    for i in only_lexical:
        assert x[i, COL["dense_rank"]] == CANDIDATES + 1


def test_rrf_feature_equals_server_fusion(reader):
    dense, lexical = lists(reader, 5, 4)
    rows, x = candidate_features(reader, QUERY, reader.query_vector, dense, lexical, 1.5, 0.75)
    fused = reciprocal_rank_fusion([dense.rows.tolist(), lexical.rows.tolist()], [1.0, 1.5])
    expected = dict(fused)
    for i, row in enumerate(rows):
        assert x[i, COL["rrf"]] == pytest.approx(expected[row])
        assert x[i, COL["rrf_rank"]] == [r for r, _ in fused].index(row) + 1


def test_overlap_features(reader):
    rows, x = candidate_features(reader, QUERY, reader.query_vector, *lists(reader, 8, 8), 1.5, 0.75)
    first = rows.index(0)  # holds every query syllable but "của"; "chuẩn đầu ra tiếng anh" is a run in it
    assert x[first, COL["query_len"]] == 8
    assert x[first, COL["overlap_gap"]] == 0.0  # 7/8 of the query: no candidate has more
    assert x[rows.index(6), COL["overlap_gap"]] == pytest.approx(2 / 8 - 7 / 8)  # "sinh viên" only
    assert x[rows.index(4), COL["overlap_gap"]] == pytest.approx(-7 / 8)  # nothing of the query


def _booster_preferring(feature: str, sign: float):
    """A tiny real LightGBM ranker trained on groups where the rank-like feature (1..20) decides
    relevance: small values relevant for sign < 0, large ones for sign > 0."""
    import lightgbm

    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, len(FEATURES)))
    x[:, COL[feature]] = np.concatenate([rng.permutation(20) + 1 for _ in range(30)])
    value = x[:, COL[feature]]
    y = np.clip(4 - value, 0, None) if sign < 0 else np.clip(value - 17, 0, None)
    data = lightgbm.Dataset(x, y, group=[20] * 30, feature_name=list(FEATURES))
    return lightgbm.train({"objective": "lambdarank", "verbosity": -1, "min_data_in_leaf": 5, "num_threads": 1},
                          data, num_boost_round=20)


def test_ranker_orders_by_model_and_keeps_deeper_rows_below(reader):
    dense, lexical = lists(reader, 4, 4)
    fused = reciprocal_rank_fusion([dense.rows.tolist(), lexical.rows.tolist()], [1.0, 1.5])
    deeper = [(row, 0.001) for row in range(len(TEXTS)) if row not in dict(fused)]
    ranker = LearnedFusion(_booster_preferring("lex_rank", -1.0))
    ranked = ranker.rank(reader, QUERY, reader.query_vector, dense, lexical, 1.5, 0.75, fused + deeper)
    assert sorted(r for r, _ in ranked) == list(range(len(TEXTS)))  # nothing lost or repeated
    scores = [s for _, s in ranked]
    assert scores == sorted(scores, reverse=True)
    assert [r for r, _ in ranked[-len(deeper):]] == [r for r, _ in deeper]
    # The model follows the BM25 rank: the first row is the lexical winner, whatever RRF said.
    assert ranked[0][0] == lexical.rows[0]
    opposite = LearnedFusion(_booster_preferring("lex_rank", 1.0))
    again = opposite.rank(reader, QUERY, reader.query_vector, dense, lexical, 1.5, 0.75, fused)
    assert again[0][0] != ranked[0][0]


def test_model_with_other_features_is_refused():
    import lightgbm

    x = np.random.default_rng(0).normal(size=(40, 3))
    booster = lightgbm.train({"objective": "lambdarank", "verbosity": -1, "min_data_in_leaf": 2},
                             lightgbm.Dataset(x, (x[:, 0] > 0).astype(float), group=[10] * 4,
                                              feature_name=["a", "b", "c"]), num_boost_round=2)
    with pytest.raises(ValueError):
        LearnedFusion(booster)


def test_shipped_model_loads_with_current_features():
    assert MODEL_PATH.is_file(), "run: python -m eval.train_ranker"
    ranker = LearnedFusion.load()
    assert tuple(ranker.booster.feature_name()) == FEATURES
    assert ranker.booster.num_trees() > 0
    assert MODEL_PATH.stat().st_size < 1_000_000  # package data: three boosters of 100 trees, about 0.5 MB


def test_unknown_fusion_setting_is_refused(monkeypatch):
    from pydantic import ValidationError

    from server.search import load_ranker
    from tracuu.settings import Settings

    with pytest.raises(ValueError, match="TRACUU_FUSION"):
        load_ranker("bogus")
    assert load_ranker("rrf") is None and isinstance(load_ranker("learned"), LearnedFusion)
    monkeypatch.setenv("TRACUU_FUSION", "nonsense")
    with pytest.raises(ValidationError, match="nonsense"):
        Settings()


def test_sentence_features_read_the_best_unit(reader):
    from server.ranker import PassageTokens, sentence_features

    query = Query("học phí đóng tại phòng kế hoạch tài chính năm 2024 ở Hà Nội")
    terms = PassageTokens().get(reader, [1, 4])
    x = sentence_features(reader, query, reader.query_vector, terms)
    cols = [name for name in FEATURES if name.startswith(("sent_cos_max", "sent_cos_second", "sent_overlap",
                                                          "sent_bigram", "sent_best", "numbers_", "names_"))]
    cols += ["lex_unit_share", "unit_span_ratio", "unit_new_number", "unit_year"]
    assert x.shape == (2, len(cols))
    f = dict(zip(cols, x[0]))
    assert f["sent_cos_max"] == pytest.approx(1.0, abs=1e-5)  # passage 1's second unit is the query vector
    assert f["sent_cos_second"] == pytest.approx(float(reader.unit_vectors[1] @ reader.query_vector), abs=1e-5)
    # the best unit by cosine is "phòng kế hoạch tài chính." (its syllables), the best by overlap may differ
    best = {"phong", "ke", "hoach", "tai", "chinh"}
    assert f["sent_overlap"] == pytest.approx(len(best & set(query.folded_syllables)) / len(set(query.folded_syllables)))
    assert f["sent_best_overlap"] >= f["sent_overlap"]
    assert f["numbers_found"] == 0.0  # "2024" is not in that unit
    assert f["names_found"] == 0.0  # nor "Hà Nội"
    # the passage holds 8 of the query's syllables (hoc phi dong tai phong ke hoach chinh), its best unit 5
    assert f["lex_unit_share"] == pytest.approx(5 / 8)
    assert f["unit_span_ratio"] == pytest.approx(1.0)  # "phòng kế hoạch tài chính": side by side
    assert f["unit_new_number"] == 0.0 and f["unit_year"] == 0.0
    g = dict(zip(cols, x[1]))
    assert g["sent_cos_max"] == pytest.approx(g["sent_cos_second"])  # one unit: second = best
    no_numbers = sentence_features(reader, Query("học phí"), reader.query_vector, terms)
    assert (no_numbers[:, cols.index("numbers_found")] == -1).all()
    assert (no_numbers[:, cols.index("names_found")] == -1).all()


def test_names_count_when_the_document_title_holds_them(reader):
    from server.ranker import PassageTokens, sentence_features

    names = FEATURES[FEATURES.index("sent_cos_max"):].index("names_found")
    terms = PassageTokens().get(reader, [1, 4])  # passage 1's title is "Quy chế đào tạo", passage 4 has none
    x = sentence_features(reader, Query("học phí đóng ở đâu theo Quy Chế Đào Tạo"), reader.query_vector, terms)
    assert x[0, names] == 1.0 and x[1, names] == 0.0
    x = sentence_features(reader, Query("học phí ở Ấn Độ Dương"), reader.query_vector, terms)
    assert x[0, names] == 0.0 and x[1, names] == 1.0  # in passage 4's text


def test_passages_without_units_get_missing_sentence_features(reader):
    from server.ranker import PassageTerms, sentence_features

    bare = PassageTerms({"hoc": (0,)}, frozenset({"hoc"}))
    x = sentence_features(reader, Query("học phí"), reader.query_vector, [bare])
    assert np.isnan(x[0, :6]).all() and x[0, 6] == -1.0  # no units; the query names nobody
    assert np.isnan(x[0, 7:]).all()


def test_span_ratio_is_found_words_over_the_shortest_stretch_holding_them():
    from server.ranker import positions_of, span_ratio

    def ratio(text, wanted):
        return span_ratio(positions_of(text.split()), wanted)

    assert ratio("a b c d", {"b", "c"}) == 1.0
    assert ratio("b x x c", {"b", "c"}) == pytest.approx(2 / 4)
    assert ratio("b x x c b c", {"b", "c"}) == 1.0  # the later, closer pair counts
    assert ratio("b x c x x a", {"a", "b", "c"}) == pytest.approx(3 / 6)
    assert ratio("x b x", {"b", "z"}) == 1.0  # only what is found is spanned
    assert ratio("x y", {"b"}) == 0.0


def test_gap_and_number_features_compare_candidates():
    from server.ranker import _gap, _has_year, _numbers

    gaps = _gap(np.array([0.5, np.nan, 0.8]))
    assert gaps[0] == pytest.approx(-0.3) and np.isnan(gaps[1]) and gaps[2] == 0.0
    assert _numbers(["co", "693", "dang", "1,3"]) == {"693", "1,3"}
    assert _has_year(_numbers(["nam", "2018"])) == 1.0 and _has_year(_numbers(["1.300", "39"])) == 0.0
    reader = FakeReader()  # passage 2 names "1,0"; a query naming it finds no new number there
    rows, x = candidate_features(reader, Query("cảnh báo học vụ dưới 1,0"), reader.query_vector,
                                 *lists(reader, 8, 8), 1.0, 1.0)
    new = x[:, COL["passage_new_number"]]
    assert new[rows.index(2)] == 0.0 and new[rows.index(3)] == 1.0  # "50" is new; "1,0" was asked
    assert new[rows.index(0)] == 0.0
    assert x[:, COL["sent_cos_gap"]].max() == 0.0 and (x[:, COL["sent_cos_gap"]] <= 0).all()
    assert x[:, COL["overlap_gap"]].max() == 0.0


def test_ablation_groups_name_every_feature_once_and_a_model_trains_without_one():
    from eval.ranker_ablation import GROUPS, columns
    from eval.train_ranker import QueryData, train

    named = [f for group in GROUPS.values() for f in group]
    assert sorted(named) == sorted(FEATURES)  # a new feature must join a group; a renamed one breaks this
    rng = np.random.default_rng(0)
    queries = [QueryData(f"q{i}", "", list(range(6)), rng.normal(size=(6, len(FEATURES))),
                         np.eye(6)[i % 6]) for i in range(60)]
    kept = [f for f in FEATURES if f not in GROUPS["spans"]]
    narrow = columns(queries, kept)
    assert narrow[0].features.shape == (6, len(kept))
    assert np.array_equal(narrow[0].features[:, kept.index("rrf")], queries[0].features[:, FEATURES.index("rrf")])
    booster = train(narrow, rounds=3, names=kept)
    assert tuple(booster.feature_name()) == tuple(kept)


def test_merged_boosters_score_the_sum_of_their_parts(tmp_path):
    from eval.train_ranker import PARAMS, QueryData, merge_boosters, train, train_ensemble

    rng = np.random.default_rng(0)
    queries = [QueryData(f"q{i}", "", list(range(8)), rng.normal(size=(8, len(FEATURES))),
                         np.eye(8)[i % 8]) for i in range(80)]
    parts = [train(queries, rounds=5, params={**PARAMS, "seed": s}) for s in range(3)]
    merged = merge_boosters(parts)
    x = rng.normal(size=(30, len(FEATURES)))
    assert merged.num_trees() == sum(p.num_trees() for p in parts)
    assert np.allclose(merged.predict(x), sum(p.predict(x) for p in parts))
    assert not np.allclose(parts[0].predict(x), parts[1].predict(x))  # the seeds made different models
    merged.save_model(str(tmp_path / "m.txt"))  # and it ships: LearnedFusion loads it and ranks with it
    assert np.allclose(LearnedFusion.load(tmp_path / "m.txt").booster.predict(x), merged.predict(x))
    assert train_ensemble(queries, rounds=5, seeds=2).num_trees() == 10


def test_title_pairs_ask_each_article_title_for_its_paragraphs(tmp_path):
    import json

    from eval.beir import Dataset
    from eval.ranker_pairs import title_pairs

    records = [("p1", "Lớp học phần", "Mỗi lớp học phần có một mã số."), ("p2", "Wikipedia", "Một đoạn bách khoa."),
               ("p3", "", "Đoạn không tiêu đề."), ("p4", "Lớp học phần", "Lớp được mở khi đủ 50 sinh viên."),
               ("p5", "Học phí học kỳ", "Học phí tính theo tín chỉ.")]
    (tmp_path / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": i, "title": t, "text": x}, ensure_ascii=False) + "\n" for i, t, x in records), "utf-8")
    pairs = title_pairs(Dataset("uit", tmp_path, "dev", {"q": "?"}, {"q": {"p1": 1}}))
    asked = {text: set(pairs.qrels[qid]) for qid, text in pairs.queries.items()}
    assert asked == {"Lớp học phần": {"p1", "p4"}, "Học phí học kỳ": {"p5"}}  # no "Wikipedia", no empty title
    assert pairs.split == "titles" and pairs.name == "uit"
