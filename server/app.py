"""The FastAPI application: the JSON API (server/api.py) and the Vietnamese pages (server/pages.py)."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from server.api import api
from server.batching import QueryBatcher
from server.deps import HERE
from server.pages import pages
from server.search import Searcher
from tracuu.core.dense import set_search_threads
from tracuu.settings import Settings

RELOAD_EVERY_S = 1.0


def _validation_error(request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's default lists pydantic internals; say in plain words which parameter is wrong.
    problems = "; ".join(f"tham số '{e['loc'][-1]}': {e['msg']}" for e in exc.errors())
    return JSONResponse(status_code=422, content={"detail": f"Yêu cầu không hợp lệ: {problems}"})


def _watch_index(searcher: Searcher, stop: threading.Event) -> None:
    """Pick up a new index version within a second or two of a build switching `current`."""
    while not stop.wait(RELOAD_EVERY_S):
        try:
            searcher.index.reload_if_changed()
        except Exception:  # noqa: BLE001 - a bad version must never stop the watcher
            logging.getLogger(__name__).exception("index reload failed; still serving the previous version")


def create_app(searcher: Searcher, settings: Settings | None = None, watch: bool = True) -> FastAPI:
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
        version=version("tracuu"),
    )
    # One query at a time gains nothing from FAISS's second OpenMP thread, and waiting for it on a busy
    # machine made a sub-millisecond search take 15-30 ms (docs/scale.md).
    set_search_threads()
    app.state.searcher = searcher
    app.state.settings = settings or Settings()
    app.state.batcher = QueryBatcher(searcher.encoder)
    app.include_router(api)
    app.include_router(pages)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(RequestValidationError, _validation_error)
    return app
