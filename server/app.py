"""FastAPI application: the JSON API under /api and the Vietnamese pages."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from indexer.dense import set_search_threads
from server import schemas
from server.batching import QueryBatcher
from server.search import MAX_K, BadQuery, Searcher, check_query, needs_vector

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def vndate(iso: str | None) -> str:
    """2022-02-08 -> 08/02/2022, the way Vietnamese documents write dates."""
    if not iso:
        return ""
    year, month, day = iso[:10].split("-")
    return f"{day}/{month}/{year}"


templates.env.filters["vndate"] = vndate


def get_searcher(request: Request) -> Searcher:
    return request.app.state.searcher


SearcherDep = Annotated[Searcher, Depends(get_searcher)]
QueryParam = Annotated[str, Query(description="Câu hỏi hoặc từ khóa (tối đa 1.000 ký tự)")]
KParam = Annotated[int, Query(description=f"Số kết quả, 1–{MAX_K}")]
ModeParam = Annotated[str, Query(description="dense (ngữ nghĩa) | lexical (từ khóa) | hybrid (kết hợp)")]

api = APIRouter(prefix="/api", tags=["api"])
pages = APIRouter(include_in_schema=False)


@api.get("/search", response_model=schemas.SearchResponse)
async def search(
    request: Request, searcher: SearcherDep, q: QueryParam, k: KParam = 5, mode: ModeParam = "hybrid"
) -> schemas.SearchResponse:
    """Ranked passages for a question, each with a citation into its source file."""
    started = time.perf_counter()
    try:
        query = check_query(q, k, mode)
    except BadQuery as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    vector = await request.app.state.batcher.encode(query) if needs_vector(mode, True) else None
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


@pages.get("/references", response_class=HTMLResponse)
def references_page(request: Request, searcher: SearcherDep) -> HTMLResponse:
    reader = searcher.reader
    entries = reader.registry.entries()
    cited = {e.key: reader.passages(reader.rows_of(e.passages)) for e in entries}
    return templates.TemplateResponse(request, "references.html", {"entries": entries, "cited": cited})


@pages.get("/healthz", response_model=schemas.Health)
def healthz(searcher: SearcherDep) -> schemas.Health:
    reader = searcher.reader
    return schemas.Health(status="ok", passages=reader.size, model=searcher.encoder.model_id,
                          index_version=reader.version.name)


@pages.get("/", response_class=HTMLResponse)
def home(request: Request, searcher: SearcherDep, q: str = "", k: str = "10", mode: str = "hybrid") -> HTMLResponse:
    context: dict = {"q": q, "k": k, "mode": mode, "result": None, "error": None,
                     "documents": searcher.reader.documents()}
    status = 200
    if q.strip():
        try:
            context["result"] = searcher.search(q, int(k) if k.isdigit() else -1, mode)
        except BadQuery as exc:
            context["error"], status = str(exc), 422
    return templates.TemplateResponse(request, "search.html", context, status_code=status)


@pages.get("/documents/{doc_id:path}", response_class=HTMLResponse)
def document_page(request: Request, searcher: SearcherDep, doc_id: str, passage: str = "") -> HTMLResponse:
    found = searcher.reader.document(doc_id)
    if found is None:
        return templates.TemplateResponse(
            request, "error.html", {"message": f"Không có tài liệu '{doc_id}'."}, status_code=404
        )
    return templates.TemplateResponse(request, "document.html", {"doc": found, "highlight": passage})


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's default lists pydantic internals; say in plain words which parameter is wrong.
    problems = "; ".join(f"tham số '{e['loc'][-1]}': {e['msg']}" for e in exc.errors())
    return JSONResponse(status_code=422, content={"detail": f"Yêu cầu không hợp lệ: {problems}"})


RELOAD_EVERY_S = 1.0


def _watch_index(searcher: Searcher, stop: threading.Event) -> None:
    """Pick up a new index version within a second or two of a build switching `current`."""
    while not stop.wait(RELOAD_EVERY_S):
        try:
            searcher.reload_if_changed()
        except Exception:  # noqa: BLE001 - a bad version must never stop the watcher
            logging.getLogger(__name__).exception("index reload failed; still serving the previous version")


def create_app(searcher: Searcher, watch: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        if watch:
            threading.Thread(target=_watch_index, args=(searcher, stop), daemon=True).start()
        yield
        stop.set()
        app.state.batcher.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Tra cứu",
        description="Tìm kiếm ngữ nghĩa và hỏi đáp trên văn bản tiếng Việt, kèm trích dẫn chính xác.",
        version="0.1.0",
    )
    # One query at a time gains nothing from FAISS's second OpenMP thread, and waiting for it on a busy
    # machine made a sub-millisecond search take 15-30 ms (docs/scale.md).
    set_search_threads()
    app.state.searcher = searcher
    app.state.batcher = QueryBatcher(searcher.encoder)
    app.include_router(api)
    app.include_router(pages)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(RequestValidationError, _validation_error)
    return app
