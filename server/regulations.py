"""The regulation fast path: when a question names a registered document ("Quy định 58", "ct 39"), the
passages citing it (and every passage of a document that names it in its opening paragraph) come first,
ordered by the rest of the question; "Điều 5 Quy định 58" puts article 5 of that regulation above them."""

from __future__ import annotations

import numpy as np

from server.fusion import Ranked, put_first, reciprocal_rank_fusion
from tracuu.core.query import Query
from tracuu.core.registry import Entry
from tracuu.core.store import IndexReader


def numbered_entries(reader: IndexReader, query: Query) -> tuple[list[Entry], list[Entry]]:
    """(every registered document the query names, the numbered ones among them). Only numbered
    documents take the fast path: a law named by its title ("Luật Du lịch") is cited mostly by its own
    closing articles, which would push the asked-about article down."""
    entries = reader.registry.resolve_all(query.references)
    return entries, [e for e in entries if e.number]


def regulation_first(reader: IndexReader, query: Query, rest_vector: np.ndarray | None, mode: str,
                     entries: list[Entry], ranked: Ranked) -> Ranked:
    """`rest_vector`: the embedding of the question without its references (`server.search.rest_text`)."""
    ranked = _cited_first(reader, query, rest_vector, mode, entries, ranked)
    if query.article:
        ranked = _article_first(reader, query.article, entries, ranked)
    return ranked


def _cited_first(reader: IndexReader, query: Query, rest_vector: np.ndarray | None, mode: str,
                 entries: list[Entry], ranked: Ranked) -> Ranked:
    """Passages citing the named documents first, ordered among themselves by the rest of the query
    (the words around the reference) on each side the mode uses: every one of them shares the reference,
    so the whole question's vector would favour those that repeat it."""
    cited_ids = {pid for e in entries for pid in e.passages}
    cited = reader.rows_of(sorted(cited_ids))
    # A document that names the regulation in its opening paragraph is about it: every one of its passages
    # counts ("Sau 5 năm thực hiện Chỉ thị 39, bao nhiêu đảng viên bị kỷ luật?" is answered by a paragraph
    # of the article on Chỉ thị 39 that does not repeat its name).
    about = sorted({pid.rsplit(":", 1)[0] for pid in cited_ids if _opening(pid)})
    if about:
        cited = sorted({*cited, *reader.rows_of_documents(about)})
    orders = []
    if rest_vector is not None and mode != "lexical":
        sims = reader.dense.scores_of(rest_vector, cited)
        orders.append([cited[i] for i in np.argsort(-sims, kind="stable")])
    tokens = reader.lexical.usable(query.rest.tokens)
    if tokens and mode != "dense":
        scores = reader.lexical.scores_of(tokens, cited)
        orders.append([cited[i] for i in np.argsort(-scores, kind="stable")])
    first = reciprocal_rank_fusion(orders) if orders else [(r, 0.0) for r in cited]
    return put_first(first, ranked)


def _opening(passage_id: str) -> bool:
    """The passage is (part of) its document's first paragraph: "<doc>:1" or "<doc>:1.<part>"."""
    return passage_id.rsplit(":", 1)[1].split(".")[0] == "1"


def _article_first(reader: IndexReader, article: str, entries: list[Entry], ranked: Ranked) -> Ranked:
    """"Điều 5 Quy định 58": the passages of article 5 in the documents that cite (or are) Quy định 58."""
    docs = sorted({d for e in entries for d in e.docs})
    rows = reader.rows_of_article(docs, article)
    if not rows:
        return ranked
    return put_first([(row, -i * 1e-6) for i, row in enumerate(rows)], ranked)
