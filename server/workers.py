"""Where a search request's CPU work runs, so that the event loop only reads requests and writes answers.

A search is two steps off the loop: its query vector, from the encoder thread (server/batching.py),
then the search itself (BM25, fusion, the ranker, answer sentences) and the rendering of its answer
(JSON or the page), on the search thread. There is one search thread: the search is Python holding
the GIL almost throughout, so a second thread would not add a core, and the searcher's caches
(the ranker's passage tokens, pyvi's tagger) are not made for concurrent use, while the answer must
not depend on what else runs. The encoder thread works beside it: onnxruntime releases the GIL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from server.batching import QueryEncoder
from server.search import Searcher, SearchResult, needs_vector, rest_text
from tracuu.core.query import Query

T = TypeVar("T")


class SearchWorkers:
    def __init__(self, searcher: Searcher, encoder: QueryEncoder | None = None):
        self.searcher = searcher
        self.encoder = encoder or QueryEncoder(searcher.encoder)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search")

    async def search(self, query: Query, k: int, mode: str, finish: Callable[[SearchResult], T]) -> T:
        """finish(result), computed on the search thread: the response to send (JSON bytes, a page)."""
        started = time.perf_counter()
        self.searcher.prepare(query)  # diacritics restored (a few dictionary lookups): what the encoder reads
        vector = await self.encoder.encode(query.embedding_text) if needs_vector(mode, True) else None
        # A question naming a document ("Quy định 58 …"): the rest of it orders that document's passages.
        rest = rest_text(query, mode)
        rest_vector = await self.encoder.encode(rest) if rest else vector
        encoded = time.perf_counter()

        def work() -> T:
            result = self.searcher.search(query, k, mode, vector=vector, rest_vector=rest_vector)
            result.timings = {"encode": round((encoded - started) * 1000, 3), **result.timings}
            result.took_ms = (time.perf_counter() - started) * 1000
            return finish(result)

        return await asyncio.get_running_loop().run_in_executor(self.executor, work)

    def close(self) -> None:
        self.encoder.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
