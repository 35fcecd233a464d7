"""The JSON API under /api."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from server import schemas
from server.deps import SearcherDep
from server.search import MAX_K, BadQuery, check_request, needs_vector

QueryParam = Annotated[str, Query(description="Câu hỏi hoặc từ khóa (tối đa 1.000 ký tự)")]
KParam = Annotated[int, Query(description=f"Số kết quả, 1–{MAX_K}")]
ModeParam = Annotated[str, Query(description="dense (ngữ nghĩa) | lexical (từ khóa) | hybrid (kết hợp)")]

api = APIRouter(prefix="/api", tags=["api"])


@api.get("/search", response_model=schemas.SearchResponse)
async def search(
    request: Request, searcher: SearcherDep, q: QueryParam, k: KParam = 5, mode: ModeParam = "hybrid"
) -> schemas.SearchResponse:
    """Ranked passages for a question, each with a citation into its source file."""
    started = time.perf_counter()
    try:
        query = check_request(q, k, mode)
    except BadQuery as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    vector = await request.app.state.batcher.encode(query.text) if needs_vector(mode, True) else None
    encoded = time.perf_counter()
    result = searcher.search(query, k, mode, vector=vector)
    result.timings = {"encode": round((encoded - started) * 1000, 3), **result.timings}
    result.took_ms = (time.perf_counter() - started) * 1000
    return schemas.search_response(result)


@api.get("/documents/{doc_id:path}", response_model=schemas.DocumentResponse)
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


@api.get("/references/{key}", response_model=schemas.ReferenceDetail)
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
