"""An index build never leaves a half-written index: locks, kill -9, and resuming."""

import fcntl
import os
import signal
import sqlite3
import subprocess
import time


from tracuu.core.store import IndexReader, current_version
from tests.conftest import CORPUS, run_tracuu
from tests.conftest import SETTINGS



def _synthetic_corpus(folder, n_docs=40, per_doc=10):
    """Articles of recombined real seed sentences: real Vietnamese, but text no cache has seen."""
    sentences = []
    for path in sorted(CORPUS.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            sentences += [s.strip() + "." for s in line.split(". ") if len(s.split()) > 8]
    folder.mkdir()
    stamp = time.time_ns()
    for d in range(n_docs):
        paragraphs = [
            f"{sentences[(d * 7 + i * 13) % len(sentences)].rstrip('.')} (mã {stamp}-{d}-{i})."
            for i in range(per_doc)
        ]
        (folder / f"bai-{d:03d}.txt").write_text(f"Bài tổng hợp số {d}\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")


def test_second_build_on_the_same_index_is_refused(tmp_path):
    index = tmp_path / "idx"
    index.mkdir()
    with open(index / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = run_tracuu("index", "--corpus", str(CORPUS), "--index", str(index))
    assert r.returncode == 1
    assert "đang chạy" in r.stderr and "Traceback" not in r.stderr
    assert current_version(index) is None  # nothing half-made


def test_kill_9_leaves_the_old_index_and_the_next_run_resumes(tmp_path, model_dir):
    home = tmp_path / "home"
    home.mkdir()
    os.symlink(SETTINGS.models_dir.resolve(), home / "models")  # reuse the converted model, fresh caches
    env = {**os.environ, "TRACUU_HOME": str(home)}
    index = tmp_path / "idx"

    small = tmp_path / "small"
    small.mkdir()
    (small / "a.txt").write_text((CORPUS / "004_36a51179155aa3a4.txt").read_text(encoding="utf-8"), encoding="utf-8")
    assert run_tracuu("index", "--corpus", str(small), "--index", str(index), env=env).returncode == 0
    old_version = current_version(index)

    big = tmp_path / "big"
    _synthetic_corpus(big)
    build = subprocess.Popen(
        [str(run_tracuu.exe), "index", "--corpus", str(big), "--index", str(index)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    cache = home / "embedding-cache.sqlite"
    deadline = time.monotonic() + 240
    cached = 0
    while time.monotonic() < deadline and build.poll() is None:
        if cache.exists():
            try:
                with sqlite3.connect(cache, timeout=1) as db:
                    cached = db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
            except sqlite3.Error:
                pass
        if cached > 300:  # the small corpus plus at least one committed chunk of the big one
            break
        time.sleep(0.2)
    assert build.poll() is None, "the build ended before it could be killed"
    build.send_signal(signal.SIGKILL)
    build.wait()

    assert current_version(index) == old_version
    reader = IndexReader(index)  # opens and passes its consistency checks
    assert reader.size > 0 and reader.manifest["documents"] == 1

    again = run_tracuu("index", "--corpus", str(big), "--index", str(index), env=env)
    assert again.returncode == 0, again.stderr
    resumed = int(again.stdout.split("(")[1].split(" đoạn/câu nhúng mới")[0])
    total = IndexReader(index)
    texts = total.size + len(total.unit_vectors)
    assert 0 < resumed < texts  # what was embedded before the kill was not embedded again
    assert current_version(index) != old_version
