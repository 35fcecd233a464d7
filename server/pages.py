"""The Vietnamese pages: search, documents, the reference registry, and /healthz."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from server import schemas
from server.deps import SearcherDep, templates
from server.search import BadQuery, check_request, parse_k

pages = APIRouter(include_in_schema=False)


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
            count = parse_k(k)
            context["result"] = searcher.search(check_request(q, count, mode), count, mode)
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
