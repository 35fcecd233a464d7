"""The Vietnamese pages: search, documents, the reference registry (and a page per regulation), /healthz,
and the Vietnamese HTML error page for unknown pages."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from server import schemas
from server.deps import HERE, SearcherDep, templates, vndate
from server.params import (
    DocParam,
    FromParam,
    RefParam,
    ToParam,
    filtered,
    parse_filters,
    parse_k,
    search_params,
)
from server.search import MAX_K, MODES, BadQuery, Hit
from server.snippets import Snippet, question_terms, snippet
from tracuu.core.query import clean_text

pages = APIRouter(include_in_schema=False)
PAGE_SIZE = 10
MODE_NAMES = [("hybrid", "Kết hợp"), ("dense", "Ngữ nghĩa"), ("lexical", "Từ khóa")]
EXAMPLES = [
    ("Câu hỏi tự nhiên", "Tỉnh Bình Thuận có bao nhiêu dân?"),
    ("Không dấu", "tinh binh thuan co bao nhieu dan"),
    ("Văn bản quy định", "Quy định 58-QĐ/TW ban hành ngày nào?"),
    ("Tiếng Anh", "How many people live in Binh Thuan?"),
]


def anchor(passage_id: str) -> str:
    """The passage's stable anchor on its document page: p-<its number in the document>."""
    return "p-" + passage_id.rsplit(":", 1)[-1]


templates.env.filters["anchor"] = anchor


def reference_label(e) -> str:
    if e.number:
        return f"{e.type} số {e.number}" + (f"-{e.symbol}" if e.symbol else "")
    name = e.name or ""
    return name if name.lower().startswith(e.type.lower()) else f"{e.type} {name}".strip()


templates.env.filters["reflabel"] = reference_label


def cited_by_passage(reader) -> dict[str, list]:
    """passage id -> the registered documents it mentions (links to their pages)."""
    found: dict[str, list] = {}
    for e in reader.registry.entries():
        for pid in e.passages:
            found.setdefault(pid, []).append(e)
    return found


@pages.get("/references", response_class=HTMLResponse)
def references_page(request: Request, searcher: SearcherDep) -> HTMLResponse:
    reader = searcher.reader
    entries = reader.registry.entries()
    return templates.TemplateResponse(request, "references.html", {"entries": entries})


@pages.get("/references/{key}", response_class=HTMLResponse)
def reference_page(request: Request, searcher: SearcherDep, key: str) -> HTMLResponse:
    reader = searcher.reader
    entry = reader.registry.get(key)
    if entry is None:
        return error_page(request, 404, f"Không có văn bản '{key}' trong danh mục văn bản được trích dẫn.")
    cited = reader.passages(reader.rows_of(entry.passages))
    info = reader.document_info(sorted({p.doc_id for p in cited}))
    return templates.TemplateResponse(request, "reference.html", {"e": entry, "cited": cited, "info": info})


@pages.get("/healthz", response_model=schemas.Health, responses={503: {"model": schemas.Health}})
def healthz(searcher: SearcherDep) -> JSONResponse:
    """The store, and for PostgreSQL each shard with its passages; 503 while a shard is down."""
    reader = searcher.reader
    store = reader.health() if hasattr(reader, "health") else {"store": "embedded"}
    down = any(s["status"] != "up" for s in store.get("shards") or [])
    health = schemas.Health(status="degraded" if down else "ok", passages=reader.size, model=searcher.encoder.model_id,
                            index_version=reader.version.name, **store)
    body = health.model_dump()
    if body["shards"] is None:
        del body["shards"]
    return JSONResponse(body, status_code=503 if down else 200)


@pages.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(HERE / "static" / "favicon.ico", media_type="image/x-icon")


def shown(text: str) -> str:
    """A parameter as the form shows it back: what the search reads (format characters dropped, line
    breaks as spaces), without control characters, which have no place in a page."""
    return "".join(c for c in clean_text(text) if unicodedata.category(c) != "Cc")


@dataclass
class ResultView:
    """One result as the page shows it (the internals are only in its collapsed details)."""

    hit: Hit
    title: str
    date: str
    byline: str | None
    snippet: Snippet
    full: Snippet
    citation: str
    link: str
    mentions: list = field(default_factory=list)  # registered documents this passage names
    others: list["ResultView"] = field(default_factory=list)  # later results from the same article


def citation_text(p, date: str) -> str:
    """A citation in Vietnamese style; page.js appends the absolute link."""
    parts = [f"“{p.title}”", f"tệp {p.source}"]
    if date:
        parts.append(f"ngày {date}")
    if p.place:
        parts.append(p.place)
    parts.append(f"đoạn {p.paragraph}" + (f", trang {p.page}" if p.page else ""))
    parts.append(f"ký tự {p.start}–{p.end}")
    return ", ".join(parts) + "."


def result_views(reader, hits: list[Hit], terms, answerable: bool) -> list[ResultView]:
    """The page's results, grouped: a result whose article already has a result above it on this page
    goes under that one ("N đoạn khác trong bài này")."""
    info = reader.document_info(sorted({h.passage.doc_id for h in hits}))
    mentions = cited_by_passage(reader)
    views: list[ResultView] = []
    first: dict[str, ResultView] = {}
    for hit in hits:
        p = hit.passage
        doc = info.get(p.doc_id, {})
        span = (hit.answer.start - p.start, hit.answer.end - p.start) if (answerable and hit.answer) else None
        date = vndate(doc.get("date"))
        view = ResultView(
            hit=hit, title=p.title, date=date, byline=doc.get("byline"),
            snippet=snippet(p.text, terms, span), full=snippet(p.text, terms, span, size=len(p.text) + 1),
            citation=citation_text(p, date), link=f"/documents/{p.doc_id}?passage={p.id}#{anchor(p.id)}",
            mentions=mentions.get(p.id, []),
        )
        if p.doc_id in first:
            first[p.doc_id].others.append(view)
        else:
            first[p.doc_id] = view
            views.append(view)
    return views


def corpus_line(reader) -> dict:
    manifest = reader.manifest
    created = str(manifest.get("created") or "")
    when = f"{vndate(created[:10])} {created[11:16]}".strip() if created else ""
    return {"documents": manifest.get("documents") or len(reader.documents()), "passages": reader.size,
            "indexed": when}


@pages.get("/", response_class=HTMLResponse)
async def home(request: Request, searcher: SearcherDep, q: str | None = None, k: str = "10", mode: str = "hybrid",
               page: str = "1", doc: DocParam = None, ref: RefParam = None, date_from: FromParam = None,
               date_to: ToParam = None):
    """The search page. Its parameters go through the API's checks (server/params.py): same rules, same words.
    The search runs off the event loop like the API's (server/workers.py), and so does the page's rendering."""
    form = {"doc": [d for d in (doc or []) if d], "ref": ref or "", "from": date_from or "", "to": date_to or ""}
    try:
        size = parse_k(k)
    except BadQuery:
        size = PAGE_SIZE
    try:
        number = max(1, int(page))
    except ValueError:
        number = 1

    def render(result=None, error: str | None = None, status: int = 200, **extra) -> HTMLResponse:
        intro = result is None and error is None
        reader = searcher.reader
        context = {"q": shown(q or ""), "k": str(size), "mode": mode if mode in MODES else "hybrid", "result": result,
                   "error": error, "modes": MODE_NAMES, "form": form,
                   "documents": reader.documents(), "intro": intro, "examples": EXAMPLES,
                   "corpus": corpus_line(reader) if intro else None, **extra}
        return templates.TemplateResponse(request, "search.html", context, status_code=status)

    if q is None:
        return render()
    try:
        query, _, mode = search_params(q, k, mode)
        filters = parse_filters(doc, ref, date_from, date_to)
    except BadQuery as exc:
        return render(error=str(exc), status=422)
    last_page = max(1, -(-MAX_K // size))
    notice = None
    if number > last_page:
        notice = f"Chỉ xem được {MAX_K} kết quả đầu tiên (trang {last_page}); hãy thu hẹp câu hỏi hoặc dùng bộ lọc."
        number = last_page
    depth = MAX_K if filters else min(number * size, MAX_K)

    def finish(result) -> HTMLResponse:
        reader = searcher.reader
        asked = len(result.hits)
        result = filtered(reader, result, filters, MAX_K)
        if filters:
            total = len(result.hits)
        else:  # the search gives as many as asked while the index has them
            total = asked if asked < depth else min(MAX_K, reader.size)
        shown_hits = result.hits[(number - 1) * size:number * size]
        terms = question_terms(result.query)
        views = result_views(reader, shown_hits, terms, result.answerable)
        first = shown_hits[0].rank if shown_hits else 0
        last = shown_hits[-1].rank if shown_hits else 0
        more = number * size < total
        return render(result, views=views, total=total, first=first, last=last, page=number,
                      next_page=number + 1 if more else None, limit_notice=notice)

    return await request.app.state.workers.search(query, depth, mode, finish)


@pages.get("/documents/{doc_id:path}", response_class=HTMLResponse)
def document_page(request: Request, searcher: SearcherDep, doc_id: str, passage: str = "") -> HTMLResponse:
    reader = searcher.reader
    found = reader.document(doc_id)
    if found is None:
        return error_page(request, 404, f"Không có tài liệu '{doc_id}'.")
    return templates.TemplateResponse(request, "document.html", {"doc": found, "highlight": passage,
                                                                 "mentions": cited_by_passage(reader)})


ERROR_TITLES = {404: "Không tìm thấy trang", 405: "Phương thức không được hỗ trợ", 422: "Yêu cầu không hợp lệ",
                503: "Tạm thời chưa tìm được"}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    title = ERROR_TITLES.get(status, "Có lỗi xảy ra")
    return templates.TemplateResponse(request, "error.html", {"message": message, "title": title, "status": status},
                                      status_code=status)
