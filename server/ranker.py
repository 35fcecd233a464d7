"""Learned fusion: a LightGBM ranker that orders the union of the dense and lexical top lists.

Weighted reciprocal rank fusion (server/fusion.py) only looks at ranks. The ranker also sees the scores
themselves (raw and normalized within the query), the RRF score, and cheap query–passage word overlap,
so it can tell a clear winner from a near tie. It was trained by `python -m eval.train_ranker` on
uit-regulations-qa only (the one benchmark whose license lets it ship): three boosters (seeds) whose trees
sit in one model file, so one prediction sums them; see docs/quality.md.

At query time, for the candidates of `Searcher.search` in hybrid mode:
- candidates = the union of the first CANDIDATES rows of each list;
- a candidate missing from one list gets its exact score on that side (dense: inner product with the
  query vector; lexical: BM25 over that candidate only), and rank CANDIDATES + 1 there;
- the model scores every candidate; rows of deeper lists (k > CANDIDATES, evaluation only) follow in
  RRF order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from server.fusion import Ranked, order_by, rrf_term
from tracuu.core.hits import Hits
from tracuu.core.query import Query
from tracuu.core.store import IndexReader
from tracuu.core.textnorm import syllable_tokens

CANDIDATES = 50  # rows taken from each list; a missing rank counts as CANDIDATES + 1
# The shipped model (package data); `python -m eval.train_ranker` writes new ones under out/.
MODEL_PATH = Path(__file__).with_name("fusion_ranker.txt")
FEATURES = (
    "dense_score",  # cosine of query and passage
    "dense_gap",  # dense_score minus the best dense score of the query
    "dense_z",  # z-score among the query's dense top list
    "dense_rank",
    "lex_score",  # BM25
    "lex_ratio",  # lex_score / the best BM25 score of the query
    "lex_z",
    "lex_rank",
    "rrf",  # the weighted RRF score the "rrf" fusion sorts by
    "rrf_rank",
    "known_share",  # share of the query's tokens the corpus knows (sets the RRF lexical weight)
    "query_len",  # syllables in the query
    # Sentence evidence: the passage's answer units (sentences) against the query.
    "sent_cos_max",  # best cosine of a unit to the query
    "sent_cos_second",  # second best (the best again when the passage has one unit)
    "sent_overlap",  # share of the query's syllables in the best unit (by cosine)
    "sent_bigram_overlap",  # the same for adjacent syllable pairs
    "sent_best_overlap",  # the best syllable share of any unit
    "numbers_found",  # share of the query's numbers in the best unit (-1: the query names none)
    "names_found",  # share of the query's capitalized-name syllables in the passage or its document's title
    # (-1: none): a paragraph of "… Tỉnh ủy Bình Thuận" is about Bình Thuận without naming it
    # Against the other candidates, and where the words stand: what tells near-duplicates apart.
    "sent_cos_gap",  # sent_cos_max minus the best sent_cos_max among the candidates
    "overlap_gap",  # share of the query's syllables (accent-free) in the passage, minus the best such share
    # among the candidates
    "lex_unit_share",  # the query's syllables in the best unit over those in the whole passage
    "span_ratio",  # the query's distinct syllables found / the shortest stretch of the passage holding them
    "unit_span_ratio",  # the same inside the best unit
    "unit_new_number",  # the best unit holds a number the query does not name (a count, an amount)
    "passage_new_number",  # the same anywhere in the passage
    "unit_year",  # the best unit names a year (19xx, 20xx)
)
# Passages whose token sets are kept in memory: about 45 KB each for a 900-character passage with its units
# (measured on alqac-legal), so at most ~135 MB; the cache is emptied when full.
_CACHE_LIMIT = 3_000


def _bigrams(tokens: Sequence[str]) -> set[tuple[str, str]]:
    return set(zip(tokens, tokens[1:]))


def _share(wanted: set, have: set) -> float:
    return len(wanted & have) / len(wanted) if wanted else 0.0


def _numbers(tokens) -> frozenset:
    return frozenset(t for t in tokens if any(c.isdigit() for c in t))


def _has_year(numbers: frozenset) -> float:
    return float(any(len(t) == 4 and t[:2] in ("19", "20") and t.isdigit() for t in numbers))


def positions_of(sequence: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """token -> where it stands in the sequence."""
    found: dict[str, list[int]] = {}
    for i, t in enumerate(sequence):
        found.setdefault(t, []).append(i)
    return {t: tuple(p) for t, p in found.items()}


def span_ratio(positions: dict[str, tuple[int, ...]], wanted: set) -> float:
    """Distinct `wanted` tokens found (positions_of a sequence) over the length of the shortest stretch
    holding each of them (1.0: side by side; 0.0: none found)."""
    present = [t for t in wanted if t in positions]
    need = len(present)
    if need <= 1:
        return float(need)
    found = sorted((i, t) for t in present for i in positions[t])
    if len(found) == need:  # each found once: the stretch is from the first to the last
        return need / (found[-1][0] - found[0][0] + 1)
    inside: dict[str, int] = {}
    shortest, left = found[-1][0] - found[0][0] + 1, 0
    for i, t in found:  # sliding window over the positions of wanted tokens
        inside[t] = inside.get(t, 0) + 1
        while len(inside) == need:
            shortest = min(shortest, i - found[left][0] + 1)
            first = found[left][1]
            inside[first] -= 1
            if not inside[first]:
                del inside[first]
            left += 1
    return need / shortest


def _gap(values: np.ndarray) -> np.ndarray:
    """Each value minus the best of the query's candidates (NaN stays NaN)."""
    finite = values[np.isfinite(values)]
    return values - finite.max() if finite.size else values


def _normalized(scores: np.ndarray, listed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scores minus, over and as a z-score against the query's own top list (`listed`)."""
    if listed.size == 0:
        zeros = np.zeros_like(scores)
        return zeros, zeros, zeros
    best = float(listed.max())
    ratio = scores / best if best > 0 else np.zeros_like(scores)
    return scores - best, ratio, (scores - listed.mean()) / (listed.std() + 1e-6)


@dataclass(frozen=True)
class PassageTerms:
    """A passage's accent-free syllables (where each stands, as a set, its numbers), its document title's
    syllables, and the same with bigrams for each of its answer units (with the units' rows, for their
    vectors)."""

    positions: dict
    tokens: frozenset
    title: frozenset = frozenset()
    unit_rows: tuple[int, ...] = ()
    unit_positions: tuple[dict, ...] = ()
    unit_tokens: tuple[frozenset, ...] = ()
    unit_bigrams: tuple[frozenset, ...] = ()
    numbers: frozenset = frozenset()
    unit_numbers: tuple[frozenset, ...] = ()


_EMPTY = PassageTerms({}, frozenset())


class PassageTokens:
    """PassageTerms computed once per (index version, row)."""

    def __init__(self):
        self._cache: dict[tuple[str, int], PassageTerms] = {}

    def get(self, reader, rows: list[int]) -> list[PassageTerms]:
        version = str(reader.version)
        missing = [r for r in rows if (version, r) not in self._cache]
        if missing:
            if len(self._cache) + len(missing) > _CACHE_LIMIT:
                self._cache.clear()
            units = reader.unit_spans(missing)
            for passage in reader.passages(missing):
                tokens = syllable_tokens(passage.text, folded=True)
                pieces = [syllable_tokens(passage.text[s - passage.start:e - passage.start], folded=True)
                          for _, s, e in units.get(passage.row, [])]
                self._cache[(version, passage.row)] = PassageTerms(
                    positions=positions_of(tokens), tokens=frozenset(tokens), numbers=_numbers(tokens),
                    title=frozenset(syllable_tokens(passage.title or "", folded=True)),
                    unit_rows=tuple(u for u, _, _ in units.get(passage.row, [])),
                    unit_positions=tuple(positions_of(t) for t in pieces),
                    unit_tokens=tuple(frozenset(t) for t in pieces),
                    unit_bigrams=tuple(frozenset(_bigrams(t)) for t in pieces),
                    unit_numbers=tuple(_numbers(t) for t in pieces))
        return [self._cache.get((version, r), _EMPTY) for r in rows]


UNIT_COLUMNS = 11  # what sentence_features returns per passage


def sentence_features(reader, query: Query, vector: np.ndarray, passages: list[PassageTerms]) -> np.ndarray:
    """Per passage, the columns sent_cos_max … names_found of FEATURES, then lex_unit_share,
    unit_span_ratio, unit_new_number and unit_year; NaN where a passage has no answer units (an index
    built without them)."""
    q_set, q_bigrams = set(query.folded_syllables), _bigrams(query.folded_syllables)
    names = query.names
    units = [u for p in passages for u in p.unit_rows]
    cosines = (reader.unit_scores(units, vector) if units else np.zeros(0)).tolist()  # floats: the loop is Python
    rows, at, nan = [], 0, math.nan
    for p in passages:
        named = sum(n in p.tokens or n in p.title for n in names) / len(names) if names else -1.0
        n = len(p.unit_rows)
        if not n:
            rows.append((nan,) * 6 + (named,) + (nan,) * 4)
            continue
        cos = cosines[at:at + n]
        at += n
        top = max(cos)
        best = cos.index(top)  # the first of equal bests
        tokens, numbers = p.unit_tokens[best], p.unit_numbers[best]
        rows.append((
            top, sorted(cos)[-2] if n > 1 else top,
            _share(q_set, tokens), _share(q_bigrams, p.unit_bigrams[best]),
            max(_share(q_set, t) for t in p.unit_tokens),
            _share(query.numbers, tokens) if query.numbers else -1.0,
            named,
            len(q_set & tokens) / max(1, len(q_set & p.tokens)),
            span_ratio(p.unit_positions[best], q_set),
            float(bool(numbers - q_set)), _has_year(numbers)))
    return np.array(rows, dtype=np.float64).reshape(len(passages), UNIT_COLUMNS)


def candidate_features(
    reader: IndexReader, query: Query, vector: np.ndarray, dense: Hits, lexical: Hits,
    lexical_weight: float, known_share: float, tokens: PassageTokens | None = None,
) -> tuple[list[int], np.ndarray]:
    """(candidate rows, features of shape (len(rows), len(FEATURES))). `dense` and `lexical` are the
    retrievers' hits; `lexical_weight` is the RRF weight the searcher uses."""
    dense, lexical = dense.pairs()[:CANDIDATES], lexical.pairs()[:CANDIDATES]
    rows = list(dict.fromkeys([r for r, _ in dense] + [r for r, _ in lexical]))
    n = len(rows)
    index = np.array(rows, dtype=np.int64)

    def side(listed: list[tuple[int, float]], exact) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores (exact for rows the list lacks), ranks, and the list's own scores."""
        known = {r: (rank, s) for rank, (r, s) in enumerate(listed, 1)}
        scores = np.array([known[r][1] if r in known else np.nan for r in rows], dtype=np.float64)
        ranks = np.array([known[r][0] if r in known else CANDIDATES + 1 for r in rows], dtype=np.float64)
        lacking = np.isnan(scores)
        if lacking.any():
            scores[lacking] = exact(index[lacking])
        return scores, ranks, np.array([s for _, s in listed], dtype=np.float64)

    d_scores, d_ranks, d_list = side(dense, lambda r: reader.dense.scores_of(vector, r))
    l_scores, l_ranks, l_list = side(lexical, lambda r: reader.lexical.scores_of(query.tokens, r))
    d_gap, _, d_z = _normalized(d_scores, d_list)
    _, l_ratio, l_z = _normalized(l_scores, l_list)

    # The weighted RRF score of the two candidate lists, from the ranks above (a missing rank adds nothing).
    rrf = (np.where(d_ranks <= CANDIDATES, rrf_term(d_ranks), 0.0)
           + np.where(l_ranks <= CANDIDATES, rrf_term(l_ranks, lexical_weight), 0.0))
    rrf_rank = np.empty(n, dtype=np.float64)
    rrf_rank[order_by(rows, rrf)] = np.arange(1, n + 1)

    q_tokens = query.folded_syllables
    q_set = set(q_tokens)
    if not n:
        return rows, np.zeros((0, len(FEATURES)))
    passages = (tokens or PassageTokens()).get(reader, rows)
    overlap = np.array([_share(q_set, p.tokens) for p in passages], dtype=np.float64)
    units = sentence_features(reader, query, vector, passages)
    features = np.column_stack([
        d_scores, d_gap, d_z, d_ranks,
        l_scores, l_ratio, l_z, l_ranks,
        rrf, rrf_rank,
        np.full(n, known_share), np.full(n, len(q_tokens)),
        units[:, :7],
        _gap(units[:, 0]), _gap(overlap), units[:, 7],
        [span_ratio(p.positions, q_set) for p in passages], units[:, 8], units[:, 9],
        [float(bool(p.numbers - q_set)) for p in passages], units[:, 10],
    ]).astype(np.float64)
    return rows, features


class LearnedFusion:
    """Loads the LightGBM model file and orders candidates by its score."""

    def __init__(self, booster):
        names = tuple(booster.feature_name())
        if names != FEATURES:
            raise ValueError(f"mô hình xếp hạng có đặc trưng {names}, mã nguồn cần {FEATURES}")
        self.booster = booster
        self.tokens = PassageTokens()

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "LearnedFusion":
        import lightgbm

        if not path.is_file():
            raise ValueError(f"không có tệp mô hình xếp hạng {path}; hãy chạy: python -m eval.train_ranker")
        return cls(lightgbm.Booster(model_file=str(path)))

    def rank(
        self, reader: IndexReader, query: Query, vector: np.ndarray, dense: Hits, lexical: Hits,
        lexical_weight: float, known_share: float, fused: Ranked,
    ) -> Ranked:
        """(row, score) best first: the candidates by model score, then the rest of `fused` (the RRF
        order of deeper lists) below them."""
        rows, features = candidate_features(reader, query, vector, dense, lexical, lexical_weight, known_share,
                                            self.tokens)
        if not rows:
            return list(fused)
        scores = self.booster.predict(features, num_threads=1)
        ranked = [(rows[i], float(scores[i])) for i in order_by(rows, scores)]
        floor = float(scores.min()) - 1.0  # deeper rows stay below every candidate (RRF scores are < 1)
        chosen = set(rows)
        return ranked + [(row, floor + s) for row, s in fused if row not in chosen]
