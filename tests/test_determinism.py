"""The same question on the same index gets the same answer, alone or under concurrent load: in process,
with an encoder whose vectors depend on the batch (as the int8 encoder's do). The real server and
model: tests/test_determinism_e2e.py."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from server import schemas
from tests.conftest import CORPUS
from tests.fake_encoder import FakeEncoder

QUESTIONS = [
    "Tỉnh Bình Thuận có bao nhiêu dân?", "bí mật nhà nước", "Quy định 58-QĐ/TW ban hành ngày nào?",
    "hội nghị tập huấn", "bảo vệ chính trị nội bộ", "tinh binh thuan co bao nhieu dan", "Chỉ thị 39",
    "công tác đối ngoại", "an ninh mạng", "kế hoạch số 139", "đảng viên", "phát triển kinh tế",
]


class BatchMixingEncoder(FakeEncoder):
    """A query's vector leans towards the others in its batch; alone, it is the fake encoder's own."""

    def encode_queries(self, texts) -> np.ndarray:
        base = super().encode_queries(texts)
        mixed = base + 0.8 * base.mean(axis=0)
        return mixed / np.linalg.norm(mixed, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    from indexer.build import build_index
    from indexer.embedding_cache import EmbeddingCache
    from server.search import Searcher, load_ranker

    home = tmp_path_factory.mktemp("determinism")
    build_index(CORPUS, home / "index", FakeEncoder(), EmbeddingCache(home / "cache.sqlite"))
    return Searcher(home / "index", BatchMixingEncoder(), load_ranker("learned"))


def answer(body: dict) -> dict:
    return {key: body[key] for key in ("results", "answerable", "confidence", "references", "notice")}


def test_concurrent_requests_rank_as_each_question_alone(searcher):
    from server.app import create_app

    questions = [f"{q} {extra}" for extra in ("", "?", "nào") for q in QUESTIONS]
    app = create_app(searcher, watch=False)

    async def concurrently():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await asyncio.gather(*(http.get("/api/search", params={"q": q, "k": 8}) for q in questions))

    try:
        responses = asyncio.run(concurrently())
    finally:
        app.state.workers.close()
    assert all(r.status_code == 200 for r in responses)
    for question, response in zip(questions, responses):
        reference = schemas.search_response(searcher.search(question, 8)).model_dump(mode="json")
        assert answer(response.json()) == answer(reference), question
