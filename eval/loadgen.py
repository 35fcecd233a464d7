"""A load generator in its own process: N concurrent clients hitting /api/search over loopback.

    python -m eval.loadgen --url http://127.0.0.1:8000 --clients 8 --requests 400 --queries FILE

Every request carries a query nobody asked before (a gold question plus a unique tail), so no cache
helps. Prints one JSON object: requests, failures, seconds, throughput, latency percentiles, and the
median of each stage the server reports in `timings`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid

import httpx


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


async def run(url: str, clients: int, requests: int, questions: list[str], timeout: float = 30.0) -> dict:
    latencies: list[float] = []
    stages: dict[str, list[float]] = {}
    failures: list[str] = []
    counter = iter(range(requests))
    tag = uuid.uuid4().hex[:6]

    async def client(http: httpx.AsyncClient) -> None:
        for i in counter:
            query = f"{questions[i % len(questions)]} {tag}{i}"
            started = time.perf_counter()
            try:
                r = await http.get(f"{url}/api/search", params={"q": query, "k": 5})
                ok = r.status_code == 200
                body = r.json() if ok else None
            except httpx.HTTPError as exc:
                ok, body = False, None
                failures.append(repr(exc))
            latencies.append((time.perf_counter() - started) * 1000)
            if not ok:
                failures.append(f"HTTP {getattr(r, 'status_code', '?')}")
                continue
            for stage, ms in body.get("timings", {}).items():
                stages.setdefault(stage, []).append(ms)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        seconds = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "failures": len(failures),
        "seconds": round(seconds, 3),
        "throughput_qps": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "stages_median_ms": {s: round(statistics.median(v), 3) for s, v in stages.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--queries", required=True, help="JSON list of question strings")
    args = parser.parse_args(argv)
    with open(args.queries, encoding="utf-8") as handle:
        questions = json.load(handle)
    json.dump(asyncio.run(run(args.url, args.clients, args.requests, questions)), sys.stdout)


if __name__ == "__main__":
    main()
