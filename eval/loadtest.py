"""Load test across index swaps: concurrent clients ask a real `tracuu serve` new questions while the index
is rebuilt and swapped, and every answer's citations are checked.

    .venv/bin/python -m eval.loadtest                      # 10,000 requests, 32 clients, 2 swaps
    .venv/bin/python -m eval.loadtest --requests 200 --clients 4 --swaps 1 --work /tmp/lt

The corpus (TRACUU_CORPUS, default corpus/) is copied to a work folder and indexed with `tracuu index`,
and `tracuu serve` answers from that index on a free loopback port. The clients send `--requests`
searches, each a gold question (eval/gold.jsonl) with a unique tail, so that no cache has seen it.
At 1/(swaps+1), 2/(swaps+1), ... of the requests the corpus changes (the first time a paragraph is
appended to an existing article, then a new article is added), `tracuu index` rebuilds, and the test
waits for /healthz to name the new version; the clients go on meanwhile, and until every swap is done.

Each answer is checked: HTTP 200 with results, and for every hit `text[start:end]` of the document
(GET /api/documents/{doc_id}) equals the passage, and the answer sentence's span equals its text and lies
inside the passage. Documents only grow here (appended to, never edited), so a citation from the version
before a swap is exact against the text after it: a mismatch is checked again against a fresh copy.

Prints one JSON object: requests, failures, citation errors, throughput, latency percentiles, the swaps
(index build seconds, seconds until the server answered from the new version). Exit code 1 if any
request failed, any citation was wrong, or a swap did not happen. Not part of the test suite at this
size; tests/test_loadtest_e2e.py runs it small.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from eval.live_server import TRACUU, free_port, serve
from eval.loadgen import percentile
from tracuu.settings import Settings

GOLD = Path(__file__).with_name("gold.jsonl")
APPENDED = ("Ghi chú bổ sung số {n}: Hội nghị tập huấn công tác chuyển đổi số trong bảo vệ chính trị nội bộ được tổ "
            "chức với {m} đại biểu tham dự.")
NEW_ARTICLE = ("Bài mới số {n}: Hội thảo về an ninh mạng\n\nHội thảo về an ninh mạng và bảo vệ bí mật nhà nước lần "
               "thứ {n} diễn ra với {m} đại biểu. Các đại biểu thảo luận kinh nghiệm bảo vệ dữ liệu của cơ quan "
               "đảng.\n")


def cited_exactly(text: str | None, hit: dict) -> bool:
    if text is None:
        return False
    c, answer = hit["citation"], hit.get("answer")
    if text[c["start"]:c["end"]] != hit["text"]:
        return False
    return answer is None or (text[answer["start"]:answer["end"]] == answer["text"]
                              and c["start"] <= answer["start"] <= answer["end"] <= c["end"])


class Corpus:
    """The work copy of the corpus and its index; each change only adds text."""

    def __init__(self, source: Path, work: Path):
        self.folder, self.index = work / "corpus", work / "index"
        if self.folder.exists():
            shutil.rmtree(self.folder)
        shutil.copytree(source, self.folder, ignore=shutil.ignore_patterns(".*", "__pycache__", "*.py", "*.pyc"))
        self.changes = 0

    def change(self) -> str:
        self.changes += 1
        n, m = self.changes, 100 + self.changes * 37
        if n == 1:
            first = sorted(self.folder.glob("*.txt"))[0]
            with first.open("a", encoding="utf-8") as handle:
                handle.write("\n\n" + APPENDED.format(n=n, m=m) + "\n")
            return f"appended a paragraph to {first.name}"
        (self.folder / f"zz-moi-{n:02d}.txt").write_text(NEW_ARTICLE.format(n=n, m=m), encoding="utf-8")
        return f"added zz-moi-{n:02d}.txt"

    def build_command(self) -> list[str]:
        return [str(TRACUU), "index", "--corpus", str(self.folder), "--index", str(self.index)]


class Checker:
    """Document texts fetched once (again after a swap, when a citation no longer fits) and every hit checked."""

    def __init__(self, http: httpx.AsyncClient, url: str):
        self.http, self.url = http, url
        self.texts: dict[str, str | None] = {}
        self.checked = 0
        self.errors: list[str] = []

    async def fetch(self, doc_id: str) -> str | None:
        r = await self.http.get(f"{self.url}/api/documents/{doc_id}")
        self.texts[doc_id] = r.json()["text"] if r.status_code == 200 else None
        return self.texts[doc_id]

    async def check(self, body: dict) -> None:
        for hit in body["results"]:
            doc_id = hit["citation"]["doc_id"]
            self.checked += 1
            if cited_exactly(self.texts.get(doc_id), hit) or cited_exactly(await self.fetch(doc_id), hit):
                continue
            self.errors.append(f"{hit['passage_id']}: {hit['citation']} for {body['query']!r}")


async def wait_for_version(http: httpx.AsyncClient, url: str, old: str, timeout: float = 120.0) -> str | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version = (await http.get(f"{url}/healthz")).json()["index_version"]
        if version != old:
            return version
        await asyncio.sleep(0.1)
    return None


async def load(url: str, corpus: Corpus, requests: int, clients: int, swaps: int, questions: list[str]) -> dict:
    latencies: list[float] = []
    failures: list[str] = []
    swap_log: list[dict] = []
    tag = uuid.uuid4().hex[:6]
    sent = answered = 0
    limits = httpx.Limits(max_connections=clients + 2, max_keepalive_connections=clients + 2)

    async with httpx.AsyncClient(timeout=60.0, limits=limits) as http:
        checker = Checker(http, url)
        swaps_done = asyncio.Event()
        if swaps == 0:
            swaps_done.set()

        async def client() -> None:
            nonlocal sent, answered
            while sent < requests or not swaps_done.is_set():
                i = sent
                sent += 1
                query = f"{questions[i % len(questions)]} {tag}{i}"
                started = time.perf_counter()
                try:
                    r = await http.get(f"{url}/api/search", params={"q": query, "k": 5})
                    body = r.json() if r.status_code == 200 else None
                except (httpx.HTTPError, ValueError) as exc:
                    failures.append(f"{query!r}: {exc!r}")
                    continue
                finally:
                    answered += 1
                latencies.append((time.perf_counter() - started) * 1000)
                if body is None or not body["results"]:
                    failures.append(f"{query!r}: HTTP {r.status_code} {r.text[:200]}")
                    continue
                await checker.check(body)

        async def swapper() -> None:
            for n in range(1, swaps + 1):
                while sent < requests * n / (swaps + 1):
                    await asyncio.sleep(0.05)
                old = (await http.get(f"{url}/healthz")).json()["index_version"]
                entry = {"at_request": sent, "change": corpus.change(), "old_version": old}
                started = time.perf_counter()
                build = await asyncio.create_subprocess_exec(*corpus.build_command(), stdout=subprocess.DEVNULL,
                                                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
                _, stderr = await build.communicate()
                entry["index_s"] = round(time.perf_counter() - started, 2)
                if build.returncode != 0:
                    entry["error"] = stderr.decode()[-500:]
                    swap_log.append(entry)
                    break
                built = time.perf_counter()
                entry["new_version"] = await wait_for_version(http, url, old)
                entry["visible_after_s"] = round(time.perf_counter() - built, 2)
                swap_log.append(entry)
            swaps_done.set()

        started = time.perf_counter()
        await asyncio.gather(swapper(), *(client() for _ in range(clients)))
        seconds = time.perf_counter() - started

    return {
        "requests": answered,
        "clients": clients,
        "failures": len(failures),
        "failure_examples": failures[:5],
        "citations_checked": checker.checked,
        "citation_errors": len(checker.errors),
        "citation_error_examples": checker.errors[:5],
        "seconds": round(seconds, 2),
        "throughput_qps": round(answered / seconds, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "swaps": swap_log,
        "swaps_done": sum(1 for s in swap_log if s.get("new_version")),
    }


def run_loadtest(requests: int = 10_000, clients: int = 32, swaps: int = 2, work: Path | None = None,
                 settings: Settings | None = None) -> dict:
    settings = settings or Settings()
    work = Path(work or tempfile.mkdtemp(prefix="tracuu-loadtest-"))
    corpus = Corpus(settings.corpus_dir, work)
    built = subprocess.run(corpus.build_command(), capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if built.returncode != 0:
        raise RuntimeError(f"tracuu index failed: {built.stderr[-2000:]}")
    questions = [json.loads(line)["question"] for line in GOLD.open(encoding="utf-8")]
    port = free_port()
    server = serve(corpus.index, port)
    try:
        report = asyncio.run(load(f"http://127.0.0.1:{port}", corpus, requests, clients, swaps, questions))
    finally:
        server.terminate()
        server.wait(timeout=30)
    report["ok"] = (report["failures"] == 0 and report["citation_errors"] == 0 and report["swaps_done"] == swaps
                    and report["requests"] >= requests)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--swaps", type=int, default=2)
    parser.add_argument("--work", type=Path, help="work folder (default: a new temporary folder)")
    args = parser.parse_args(argv)
    report = run_loadtest(args.requests, args.clients, args.swaps, args.work)
    json.dump(report, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
