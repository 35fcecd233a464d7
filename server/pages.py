"""The Vietnamese pages: search, documents, the reference registry, and /healthz."""

from __future__ import annotations

import unicodedata

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from server import schemas
from server.deps import SearcherDep, templates
from server.params import parse_k, search_params
from server.search import MODES, BadQuery
from tracuu.core.query import clean_text

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


def shown(text: str) -> str:
    """A parameter as the form shows it back: what the search reads (format characters dropped, line
    breaks as spaces), without control characters, which have no place in a page."""
    return "".join(c for c in clean_text(text) if unicodedata.category(c) != "Cc")


@pages.get("/", response_class=HTMLResponse)
async def home(request: Request, searcher: SearcherDep, q: str = "", k: str = "10", mode: str = "hybrid"):
    """The search page. Its parameters go through the API's checks (server/params.py): same rules, same words.
    The search runs off the event loop like the API's (server/workers.py), and so does the page's rendering."""

    def page(result=None, error: str | None = None, status: int = 200) -> HTMLResponse:
        try:
            form_k = str(parse_k(k))
        except BadQuery:
            form_k = "10"  # the form starts again from the default; the message says what was sent
        intro = result is None and error is None
        context = {"q": shown(q), "k": form_k, "mode": mode if mode in MODES else "hybrid", "result": result,
                   "error": error, "documents": searcher.reader.documents() if intro else []}
        return templates.TemplateResponse(request, "search.html", context, status_code=status)

    if not q.strip():
        return page()
    try:
        query, count, mode = search_params(q, k, mode)
    except BadQuery as exc:
        return page(error=str(exc), status=422)
    return await request.app.state.workers.search(query, count, mode, page)


@pages.get("/documents/{doc_id:path}", response_class=HTMLResponse)
def document_page(request: Request, searcher: SearcherDep, doc_id: str, passage: str = "") -> HTMLResponse:
    found = searcher.reader.document(doc_id)
    if found is None:
        return templates.TemplateResponse(
            request, "error.html", {"message": f"Không có tài liệu '{doc_id}'."}, status_code=404
        )
    return templates.TemplateResponse(request, "document.html", {"doc": found, "highlight": passage})
