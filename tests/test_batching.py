"""The query micro-batcher: concurrent queries share one encoder call; repeated ones hit the cache."""

import asyncio
import threading
import time

import numpy as np

from server.batching import QueryBatcher


class CountingEncoder:
    def __init__(self, delay=0.01):
        self.calls: list[list[str]] = []
        self.delay = delay
        self.threads = set()

    def encode_queries(self, texts):
        self.calls.append(list(texts))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        return np.array([[len(t), i] for i, t in enumerate(texts)], dtype=np.float32)


def test_concurrent_queries_are_encoded_together():
    encoder = CountingEncoder()
    batcher = QueryBatcher(encoder, max_batch=16)

    async def main():
        return await asyncio.gather(*(batcher.encode(f"câu hỏi {i}") for i in range(10)))

    vectors = asyncio.run(main())
    assert len(encoder.calls) == 1 and len(encoder.calls[0]) == 10
    assert [v[0] for v in vectors] == [len(f"câu hỏi {i}") for i in range(10)]


def test_batches_are_bounded_and_every_query_answered():
    encoder = CountingEncoder()
    batcher = QueryBatcher(encoder, max_batch=4)

    async def main():
        return await asyncio.gather(*(batcher.encode(f"q{i}") for i in range(11)))

    vectors = asyncio.run(main())
    assert len(vectors) == 11
    assert all(len(call) <= 4 for call in encoder.calls)
    assert sorted(t for call in encoder.calls for t in call) == sorted(f"q{i}" for i in range(11))
    assert encoder.threads == {next(iter(encoder.threads))}  # one encoder thread


def test_queries_arriving_while_the_encoder_runs_share_the_next_call():
    encoder = CountingEncoder(delay=0.05)
    batcher = QueryBatcher(encoder, max_batch=16)

    async def main():
        first = asyncio.ensure_future(batcher.encode("đầu tiên"))
        await asyncio.sleep(0.01)  # the first call is running now
        later = await asyncio.gather(*(batcher.encode(f"sau {i}") for i in range(5)))
        return await first, later

    first, later = asyncio.run(main())
    assert encoder.calls == [["đầu tiên"], [f"sau {i}" for i in range(5)]]
    assert first[0] == len("đầu tiên") and len(later) == 5


def test_a_lone_query_is_not_held_back(monkeypatch):
    """No waiting window: the encoder starts as soon as the event loop gets to it."""

    async def no_waiting(*args, **kwargs):
        raise AssertionError("the batcher must not sleep before encoding")

    monkeypatch.setattr(asyncio, "sleep", no_waiting)
    encoder = CountingEncoder(delay=0)
    batcher = QueryBatcher(encoder)
    vector = asyncio.run(batcher.encode("một mình"))
    assert encoder.calls == [["một mình"]] and vector[0] == len("một mình")


def test_repeated_queries_come_from_the_cache():
    encoder = CountingEncoder(delay=0)
    batcher = QueryBatcher(encoder, cache_size=2)

    async def main():
        first = await batcher.encode("a")
        again = await batcher.encode("a")
        await batcher.encode("b")
        await batcher.encode("c")  # evicts "a"
        await batcher.encode("a")
        return first, again

    first, again = asyncio.run(main())
    assert np.array_equal(first, again)
    assert [c for call in encoder.calls for c in call] == ["a", "b", "c", "a"]
    assert batcher.hits == 1


def test_encoder_errors_reach_every_waiting_request():
    class Broken:
        def encode_queries(self, texts):
            raise RuntimeError("hỏng")

    batcher = QueryBatcher(Broken())

    async def main():
        return await asyncio.gather(batcher.encode("x"), batcher.encode("y"), return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) for r in results)
