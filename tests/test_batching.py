"""The query encoder of the server: each query encoded alone (so its vector never depends on the load),
on one thread, never twice at once, and remembered in an LRU cache."""

import asyncio
import threading
import time

import numpy as np
import pytest

from server.batching import QueryEncoder


class BatchSensitiveEncoder:
    """Like the int8 encoder, a text's vector depends on the batch it is encoded in: activations are
    quantized with one scale per batch (here, the batch's largest value)."""

    def __init__(self, delay=0.01):
        self.calls: list[list[str]] = []
        self.delay = delay
        self.threads = set()

    def encode_queries(self, texts):
        self.calls.append(list(texts))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        raw = np.array([[len(t), sum(map(ord, t)) % 97, 3.0] for t in texts], dtype=np.float32)
        scale = raw.max() / 127
        return np.round(raw / scale) * scale


def alone(texts):
    """Each text encoded in a batch of its own, by a fresh encoder: the reference vectors."""
    return [BatchSensitiveEncoder(delay=0).encode_queries([t])[0] for t in texts]


def test_the_fake_encoder_does_depend_on_the_batch():
    texts = [f"câu hỏi số {i}" * (i + 1) for i in range(8)]
    together = BatchSensitiveEncoder(delay=0).encode_queries(texts)
    assert not all(np.array_equal(a, b) for a, b in zip(alone(texts), together))


def test_concurrent_queries_get_the_vectors_they_get_alone():
    texts = [f"câu hỏi số {i}" * (i + 1) for i in range(12)]
    encoder = BatchSensitiveEncoder()
    batcher = QueryEncoder(encoder)

    async def main():
        return await asyncio.gather(*(batcher.encode(t) for t in texts))

    vectors = asyncio.run(main())
    assert all(np.array_equal(v, ref) for v, ref in zip(vectors, alone(texts)))
    assert all(len(call) == 1 for call in encoder.calls) and len(encoder.calls) == len(texts)
    assert encoder.threads == {next(iter(encoder.threads))}  # one encoder thread


def test_queries_arriving_while_the_encoder_runs_are_still_encoded_alone():
    encoder = BatchSensitiveEncoder(delay=0.05)
    batcher = QueryEncoder(encoder)

    async def main():
        first = asyncio.ensure_future(batcher.encode("đầu tiên"))
        await asyncio.sleep(0.01)  # the first call is running now
        later = await asyncio.gather(*(batcher.encode(f"sau {i}") for i in range(5)))
        return await first, later

    first, later = asyncio.run(main())
    assert encoder.calls == [["đầu tiên"]] + [[f"sau {i}"] for i in range(5)]
    assert np.array_equal(first, alone(["đầu tiên"])[0])


def test_the_same_query_in_flight_is_encoded_once():
    encoder = BatchSensitiveEncoder(delay=0.05)
    batcher = QueryEncoder(encoder)

    async def main():
        return await asyncio.gather(*(batcher.encode("cùng một câu") for _ in range(6)))

    vectors = asyncio.run(main())
    assert encoder.calls == [["cùng một câu"]]
    assert all(np.array_equal(v, vectors[0]) for v in vectors)


def test_a_lone_query_is_not_held_back(monkeypatch):
    """No waiting window: the encoder starts as soon as the event loop gets to it."""

    async def no_waiting(*args, **kwargs):
        raise AssertionError("the encoder must not sleep before encoding")

    monkeypatch.setattr(asyncio, "sleep", no_waiting)
    encoder = BatchSensitiveEncoder(delay=0)
    vector = asyncio.run(QueryEncoder(encoder).encode("một mình"))
    assert encoder.calls == [["một mình"]] and vector[0] > 0


def test_repeated_queries_come_from_the_cache():
    encoder = BatchSensitiveEncoder(delay=0)
    batcher = QueryEncoder(encoder, cache_size=2)

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


def test_vectors_handed_out_cannot_be_changed():
    batcher = QueryEncoder(BatchSensitiveEncoder(delay=0))
    vector = asyncio.run(batcher.encode("a"))
    with pytest.raises(ValueError):
        vector[0] = 0.0


def test_a_request_that_goes_away_does_not_cancel_the_others():
    encoder = BatchSensitiveEncoder(delay=0.05)
    batcher = QueryEncoder(encoder)

    async def main():
        leaving = asyncio.ensure_future(batcher.encode("chung"))
        staying = asyncio.ensure_future(batcher.encode("chung"))
        await asyncio.sleep(0.01)
        leaving.cancel()
        return await staying

    assert np.array_equal(asyncio.run(main()), alone(["chung"])[0])


def test_encoder_errors_reach_every_waiting_request_and_are_not_cached():
    class Flaky:
        def __init__(self):
            self.broken = True

        def encode_queries(self, texts):
            if self.broken:
                raise RuntimeError("hỏng")
            return np.ones((len(texts), 3), dtype=np.float32)

    flaky = Flaky()
    batcher = QueryEncoder(flaky)

    async def main():
        failed = await asyncio.gather(batcher.encode("x"), batcher.encode("x"), batcher.encode("y"),
                                      return_exceptions=True)
        flaky.broken = False
        return failed, await batcher.encode("x")

    failed, later = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) for r in failed)
    assert later.tolist() == [1.0, 1.0, 1.0]
