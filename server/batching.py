"""Query embeddings for concurrent requests: encoded together, and remembered.

One query at a time holds both cores for the whole encoder call, but in a batch a token costs about
half as much. So queries arriving within a couple of milliseconds of each other (or while the encoder
is busy) go through the encoder as one batch. Recent query vectors are kept in an LRU cache.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MAX_BATCH = 16
WINDOW_S = 0.002
CACHE_SIZE = 2048


class QueryBatcher:
    def __init__(self, encoder, max_batch: int = MAX_BATCH, window_s: float = WINDOW_S, cache_size: int = CACHE_SIZE):
        self.encoder = encoder
        self.max_batch = max_batch
        self.window_s = window_s
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.cache_size = cache_size
        self.pending: list[tuple[str, asyncio.Future]] = []
        # One encoder call at a time: the encoder already uses both cores.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoder")
        self.batches = 0  # counters for /healthz and the benchmark
        self.encoded = 0
        self.hits = 0

    async def encode(self, query: str) -> np.ndarray:
        cached = self.cache.get(query)
        if cached is not None:
            self.cache.move_to_end(query)
            self.hits += 1
            return cached
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((query, future))
        if len(self.pending) == 1:
            loop.create_task(self._flush_after_window())
        elif len(self.pending) >= self.max_batch:
            loop.create_task(self._flush())
        return await future

    async def _flush_after_window(self) -> None:
        await asyncio.sleep(self.window_s)
        await self._flush()

    async def _flush(self) -> None:
        batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch:]
        if not batch:
            return
        if self.pending:  # more arrived than one batch holds: they go next
            asyncio.get_running_loop().create_task(self._flush_after_window())
        texts = list(dict.fromkeys(query for query, _ in batch))
        try:
            vectors = await asyncio.get_running_loop().run_in_executor(
                self.executor, self.encoder.encode_queries, texts
            )
        except Exception as exc:  # noqa: BLE001 - every waiting request gets the error
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.encoded += len(texts)
        by_text = dict(zip(texts, vectors))
        for query, future in batch:
            if not future.done():
                future.set_result(by_text[query])
        for text, vector in by_text.items():
            self.cache[text] = vector
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
