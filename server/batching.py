"""Query embeddings for concurrent requests: encoded together, and remembered.

One query at a time holds both cores for the whole encoder call, but in a batch a token costs about
half as much. So the encoder never waits for company: a query that finds it idle is encoded at once
(no added latency for a lone user), and the queries that arrive while a call runs go through the
next call together (up to MAX_BATCH). Recent query vectors are kept in an LRU cache.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MAX_BATCH = 16
CACHE_SIZE = 2048


class QueryBatcher:
    def __init__(self, encoder, max_batch: int = MAX_BATCH, cache_size: int = CACHE_SIZE):
        self.encoder = encoder
        self.max_batch = max_batch
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.cache_size = cache_size
        self.pending: list[tuple[str, asyncio.Future]] = []
        self.running = False  # an encoder call is in flight (or about to start)
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
        future = asyncio.get_running_loop().create_future()
        self.pending.append((query, future))
        if not self.running:
            self.running = True
            # Starts on the next loop turn: requests arriving in this same turn join the batch.
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch:]
                await self._encode(batch)
        finally:
            self.running = False

    async def _encode(self, batch: list[tuple[str, asyncio.Future]]) -> None:
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
