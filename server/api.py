"""The JSON API under /api. Every refused request gets {"detail": "<Vietnamese sentence>"} (server/params.py)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from server import schemas
from server.deps import SearcherDep
from server.params import (
    DEFAULTS,
    DocParam,
    FromParam,
    KParam,
    ModeParam,
    QParam,
    RefParam,
    ToParam,
    errors,
    filtered,
    parse_filters,
    search_params,
)
from server.search import MAX_K, BadQuery

api = APIRouter(prefix="/api", tags=["api"])


@api.get("/search", response_model=schemas.SearchResponse, responses=errors(422))
async def search(
    request: Request, searcher: SearcherDep, q: QParam, k: KParam = DEFAULTS["k"], mode: ModeParam = DEFAULTS["mode"],
    doc: DocParam = [], ref: RefParam = None, date_from: FromParam = None, date_to: ToParam = None,
) -> Response:
    """Ranked passages for a question, each with a citation into its source file. The filters (doc, ref,
    from, to) apply to the best 50 passages: the ranking is the same, the passages that do not pass are
    left out and the rest ranked again from 1."""
    try:
        query, k, mode = search_params(q, k, mode)
        filters = parse_filters(doc, ref, date_from, date_to, strict=True)
    except BadQuery as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None

    def finish(result) -> str:
        return schemas.search_response(filtered(searcher.reader, result, filters, k)).model_dump_json()

    # Encoded on the encoder thread, searched and serialized on the search thread (server/workers.py);
    # the body is the SearchResponse model's JSON, so FastAPI need not check it again on the loop.
    body = await request.app.state.workers.search(query, MAX_K if filters else k, mode, finish)
    return Response(body, media_type="application/json")


@api.get("/documents/{doc_id:path}", response_model=schemas.DocumentResponse, responses=errors(404, 422))
def document(searcher: SearcherDep, doc_id: str) -> schemas.DocumentResponse:
    found = searcher.reader.document(doc_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"Không có tài liệu '{doc_id}'.")
    passages = [
        schemas.PassageOut(passage_id=p.id, paragraph=p.paragraph, start=p.start, end=p.end, text=p.text, kind=p.kind,
                           page=p.page, place=p.place)
        for p in found.pop("passages")
    ]
    return schemas.DocumentResponse(**found, passages=passages)


@api.get("/references", response_model=list[schemas.ReferenceOut])
def references(searcher: SearcherDep) -> list[schemas.ReferenceOut]:
    """Every distinct Party/State document the corpus cites, merged across articles."""
    return [schemas.reference(e) for e in searcher.reader.registry.entries()]


@api.get("/references/{key}", response_model=schemas.ReferenceDetail, responses=errors(404, 422))
def reference_detail(searcher: SearcherDep, key: str) -> schemas.ReferenceDetail:
    reader = searcher.reader  # one index version for the whole request
    entry = reader.registry.get(key)
    if entry is None:
        raise HTTPException(status_code=404, detail=f"Không có văn bản '{key}' trong danh mục.")
    passages = reader.passages(reader.rows_of(entry.passages))
    hits = [
        schemas.SearchHit(rank=i, score=0.0, passage_id=p.id, text=p.text, citation=schemas.citation(p))
        for i, p in enumerate(passages, 1)
    ]
    return schemas.ReferenceDetail(**schemas.reference(entry).model_dump(), passages=hits)
