"""A running server picks up a new index version by itself, without failing a request in flight."""

import shutil
import threading
import time

import httpx

from tests.conftest import CORPUS, run_tracuu, start_server


NEW_TEXT = "Hội thảo về chuyển đổi số ngành thủy sản Cà Mau diễn ra tại thành phố Rạch Giá với 250 đại biểu."


def test_hot_reload_under_load(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "004_36a51179155aa3a4.txt", corpus)
    index = tmp_path / "index"
    assert run_tracuu("index", "--corpus", str(corpus), "--index", str(index)).returncode == 0
    url, proc = start_server(index)
    try:
        before = httpx.get(f"{url}/healthz").json()["index_version"]
        errors: list[str] = []
        done = 0
        stop = threading.Event()

        def client():
            nonlocal done
            with httpx.Client(timeout=30) as http:
                while not stop.is_set() or done < 1000:
                    r = http.get(f"{url}/api/search", params={"q": f"hội nghị tập huấn {done % 7}", "k": 3})
                    if r.status_code != 200 or not r.json()["results"]:
                        errors.append(f"{r.status_code} {r.text[:200]}")
                    done += 1
                    if done >= 3000:
                        break

        loop = threading.Thread(target=client)
        loop.start()
        time.sleep(1.0)
        (corpus / "new.txt").write_text(f"Chuyển đổi số thủy sản\n\n{NEW_TEXT}\n", encoding="utf-8")
        built = run_tracuu("index", "--corpus", str(corpus), "--index", str(index))
        assert built.returncode == 0, built.stderr
        switched_at = time.monotonic()
        version = before
        while version == before and time.monotonic() - switched_at < 10:
            version = httpx.get(f"{url}/healthz").json()["index_version"]
            time.sleep(0.1)
        reload_s = time.monotonic() - switched_at
        stop.set()
        loop.join(timeout=120)
        assert version != before and reload_s <= 5
        assert done >= 1000 and errors == []
        found = httpx.get(f"{url}/api/search", params={"q": "chuyển đổi số thủy sản Cà Mau", "k": 1}).json()
        assert NEW_TEXT in found["results"][0]["text"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
