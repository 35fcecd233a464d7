"""The package as users install it: a wheel built from the checkout, installed without the checkout on
the path, indexing and serving from an unrelated folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import httpx
import pytest

from eval.live_server import free_port, start
from tests.conftest import REPO, SETTINGS

NEEDED = ["server/templates/search.html", "server/templates/base.html", "server/static/style.css",
          "server/fusion_ranker.txt", "tracuu/core/question_prior.json", "eval/gold.jsonl", "tracuu/corpus/000_eef771c6f4b7a4c7.txt"]


def clean_checkout(folder):
    """The files git knows (tracked, or new and not ignored), copied: what a fresh clone would hold,
    without build/ leftovers that setuptools would pack into the wheel."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for name in listed:
        if (REPO / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    source = clean_checkout(tmp_path_factory.mktemp("checkout"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(out), str(source)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    # setuptools' complaints about data folders it "would ignore", or package data it cannot find
    noisy = [line for line in (build.stdout + build.stderr).splitlines()
             if "would be ignored" in line or "SetuptoolsDeprecationWarning" in line or "package_data" in line.lower()]
    assert noisy == []
    (path,) = out.glob("tracuu-*.whl")
    return path


def test_wheel_holds_every_template_static_and_model_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in NEEDED if n not in names]
    assert missing == []
    templates = {p.name for p in (REPO / "server" / "templates").glob("*.html")}
    assert templates <= {n.rsplit("/", 1)[1] for n in names if n.startswith("server/templates/")}
    assert not any(n.startswith("tests/") for n in names)
    modules = {n for n in names if n.endswith(".py")}
    sources = {str(p.relative_to(REPO)) for d in ("tracuu", "indexer", "server", "eval") for p in (REPO / d).rglob("*.py")}
    assert modules == sources  # every module, and nothing stale


def test_installed_wheel_indexes_and_serves_in_any_folder(wheel, tmp_path):
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    work = tmp_path / "elsewhere"  # no corpus/, no checkout: the defaults must not point into the repository
    (work / ".tracuu").mkdir(parents=True)
    os.symlink(SETTINGS.models_dir.resolve(), work / ".tracuu" / "models")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACUU_")}
    env["PYTHONPATH"] = str(target)
    tracuu = [sys.executable, "-c", "from tracuu.cli import app; app()"]
    where = subprocess.run([sys.executable, "-c", "import tracuu, server, eval; print(tracuu.__file__, server.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True)
    assert where.stdout.count(str(target)) == 2, where.stdout + where.stderr
    index = subprocess.run([*tracuu, "index"], cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert index.returncode == 0, index.stderr[-3000:]
    assert (work / ".tracuu" / "index" / "current").exists()
    port = free_port()
    server = start([*tracuu, "serve", "--port", str(port)], port, timeout_s=120, cwd=work, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        body = httpx.get(f"{url}/api/search", params={"q": "Tỉnh Bình Thuận có bao nhiêu dân?", "k": 3}).json()
        assert any("1,3 triệu dân" in h["text"] for h in body["results"])
        page = httpx.get(f"{url}/", params={"q": "Chỉ thị 39"})
        assert page.status_code == 200 and 'class="result"' in page.text
        assert httpx.get(f"{url}/static/style.css").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
