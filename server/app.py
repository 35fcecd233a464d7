"""The FastAPI application: the JSON API (server/api.py) and the Vietnamese pages (server/pages.py)."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from swagger_ui_bundle import swagger_ui_path

from server.api import api
from server.deps import HERE
from server.pages import error_page, pages
from server.params import validation_error
from server.search import Searcher
from server.security import SecurityHeaders
from server.workers import SearchWorkers
from tracuu.core.dense import set_search_threads
from tracuu.core.pg.schema import StoreUnavailable
from tracuu.settings import Settings

RELOAD_EVERY_S = 1.0
# The OpenAPI page, served from this server: Swagger UI from the swagger-ui-bundle package, started by
# a script of ours (the Content-Security-Policy allows no CDN and no inline script).
API_DOCS = """<!doctype html>
<html lang="vi">
<head>
  <meta charset="utf-8">
  <title>Tra cứu – API</title>
  <link rel="stylesheet" href="/swagger-ui/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/swagger-ui/swagger-ui-bundle.js"></script>
  <script src="/static/api-docs.js"></script>
</body>
</html>
"""


def _watch_index(searcher: Searcher, stop: threading.Event) -> None:
    """Pick up a new index version within a second or two of a build switching `current`."""
    while not stop.wait(RELOAD_EVERY_S):
        try:
            searcher.index.reload_if_changed()
        except Exception:
            logging.getLogger(__name__).exception("index reload failed; still serving the previous version")


def http_error(request, exc: StarletteHTTPException):
    """/api/... keeps its JSON {"detail": ...}; a page that does not exist gets a Vietnamese HTML page."""
    if request.url.path.startswith("/api/") or request.url.path in ("/api", "/openapi.json"):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    if exc.status_code == 404:
        message = "Không có trang này. Có thể địa chỉ đã gõ sai hoặc trang đã được chuyển đi."
    elif exc.status_code == 405:
        message = "Trang này chỉ mở được bằng cách truy cập thông thường (GET)."
    else:
        message = exc.detail if isinstance(exc.detail, str) else "Có lỗi xảy ra khi xử lý yêu cầu."
    response = error_page(request, exc.status_code, message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def store_unavailable(request, exc: StoreUnavailable):
    """The database or one of its shards does not answer: 503 and a Vietnamese sentence, never a hang."""
    headers = {"Retry-After": "10"}
    if request.url.path.startswith("/api/") or request.url.path == "/healthz":
        return JSONResponse({"detail": str(exc)}, status_code=503, headers=headers)
    response = error_page(request, 503, str(exc))
    response.headers.update(headers)
    return response


def create_app(searcher: Searcher, settings: Settings | None = None, watch: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        if watch:
            threading.Thread(target=_watch_index, args=(searcher, stop), daemon=True).start()
        yield
        stop.set()
        app.state.workers.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Tra cứu",
        description="Tìm kiếm ngữ nghĩa và hỏi đáp trên văn bản tiếng Việt, kèm trích dẫn chính xác.",
        version=version("tracuu"),
        docs_url=None,
        redoc_url=None,
    )
    # One query at a time gains nothing from FAISS's second OpenMP thread, and waiting for it on a busy
    # machine made a sub-millisecond search take 15-30 ms (docs/scale.md).
    set_search_threads()
    app.state.searcher = searcher
    app.state.settings = settings or Settings()
    app.state.workers = SearchWorkers(searcher)
    app.include_router(api)
    app.include_router(pages)

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(API_DOCS)

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.mount("/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger-ui")
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(StoreUnavailable, store_unavailable)
    app.add_middleware(SecurityHeaders)
    return app
