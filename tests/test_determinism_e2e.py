"""The same questions, sent to the real server by concurrent clients, get exactly the answers each gets
alone: the int8 encoder's vectors must not depend on which other queries run at the same time."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx

from server import schemas
from tests.conftest import REPO, SETTINGS

CLIENTS = 8


def questions(count: int) -> list[str]:
    """Gold questions with a tail no cache has seen (the server's LRU would otherwise answer from memory)."""
    gold = [json.loads(line)["question"] for line in (REPO / "eval" / "gold.jsonl").open(encoding="utf-8")]
    tag = uuid.uuid4().hex[:6]
    return [f"{gold[i % len(gold)]} {tag}{i}" for i in range(count)]


def essentials(body: dict) -> dict:
    return {key: body[key] for key in ("results", "answerable", "confidence", "references", "notice")}


async def ask_concurrently(url: str, asked: list[str]) -> list[dict]:
    pending = iter(asked)
    answers: dict[str, dict] = {}

    async def client(http: httpx.AsyncClient) -> None:
        for q in pending:
            r = await http.get(f"{url}/api/search", params={"q": q, "k": 10})
            assert r.status_code == 200, r.text
            answers[q] = r.json()

    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    return [answers[q] for q in asked]


def test_rankings_under_concurrent_load_equal_the_rankings_alone(live_server, seed_index):
    from tracuu.cli import load_searcher

    asked = questions(120)
    loaded = asyncio.run(ask_concurrently(live_server, asked))
    # The server's own configuration (TRACUU_BACKEND, the ranker), in this process, one question at a time.
    alone = load_searcher(SETTINGS, seed_index)
    differ = []
    for q, body in zip(asked, loaded):
        reference = schemas.search_response(alone.search(q, 10)).model_dump(mode="json")
        if essentials(body) != essentials(reference):
            differ.append(q)
    assert differ == [], f"{len(differ)} of {len(asked)} questions ranked differently under load"
