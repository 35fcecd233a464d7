"""Query embeddings for concurrent requests: each query encoded on its own, and remembered.

Every query goes through the encoder alone (a batch of one), whatever else is running. The int8
encoder quantizes activations per batch, so a query encoded beside others got a slightly different
vector (cosine 0.989-0.998 to its vector alone) and sometimes a different ranking: the same question
on the same index must always get the same answer. Batching bought nothing with the `vnni` int8 file
(docs/speed.md: the same time per query at every batch size), so nothing is lost there.

One encoder thread runs the calls one after another (the encoder already uses both cores); a query
already being encoded is not encoded twice; recent vectors are kept in an LRU cache. Vectors are
read-only, so no caller can change what the cache hands to the next one.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

CACHE_SIZE = 2048


class QueryEncoder:
    def __init__(self, encoder, cache_size: int = CACHE_SIZE):
        self.encoder = encoder
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.cache_size = cache_size
        self.in_flight: dict[str, asyncio.Future] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoder")
        self.encoded = 0  # counters for the benchmark
        self.hits = 0

    async def encode(self, query: str) -> np.ndarray:
        cached = self.cache.get(query)
        if cached is not None:
            self.cache.move_to_end(query)
            self.hits += 1
            return cached
        future = self.in_flight.get(query)
        if future is None:
            future = asyncio.get_running_loop().run_in_executor(self.executor, self._encode_alone, query)
            self.in_flight[query] = future
            future.add_done_callback(lambda done: self._remember(query, done))
        # A request that goes away (client disconnected) must not cancel the call others wait for.
        return await asyncio.shield(future)

    def _encode_alone(self, query: str) -> np.ndarray:
        vector = np.array(self.encoder.encode_queries([query])[0], dtype=np.float32)  # a copy of its own
        vector.setflags(write=False)
        return vector

    def _remember(self, query: str, done: asyncio.Future) -> None:
        self.in_flight.pop(query, None)
        if done.cancelled() or done.exception() is not None:
            return  # an error reaches the waiting requests; the next request tries again
        self.encoded += 1
        self.cache[query] = done.result()
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
