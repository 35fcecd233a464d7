"""Export the model folder's BertModel to ONNX: a fused fp32 graph and a dynamic int8 one.

The files live next to the model folder: ``$TRACUU_HOME/models/<model folder>-onnx/`` holds
``model-fp32.onnx``, ``model-int8.onnx`` and ``onnx-source.json`` (the source folder's fingerprint,
the export settings and the cached fidelity verdict). They are built on first use (about a minute) and
rebuilt when the model folder, the export settings or the onnxruntime version change.

``TRACUU_ONNX_QUANT`` (the settings' ``onnx_quant``) picks the int8 weight format (``QUANTIZATIONS``):
``auto`` (vnni when /proc/cpuinfo shows VNNI, else avx2; decided again at every load, so files exported
on another CPU are rebuilt), ``avx2`` (u8 weights, reduce_range: correct on any x86 CPU) or ``vnni``
(s8 weights, full range: 1.7x faster than avx2 on a CPU with AVX512-VNNI / AVX-VNNI, same fidelity).
Needs ``onnx`` and ``onnxruntime``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from tracuu.core.encoders.torch_encoder import model_identity

log = logging.getLogger(__name__)

FILES = {"fp32": "model-fp32.onnx", "int8": "model-int8.onnx"}
SOURCE_FILE = "onnx-source.json"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "last_hidden_state"
# Bumped whenever the files written for the same model folder change (export, fusion or
# quantization settings), so cached files are rebuilt.
EXPORT_VERSION = 1
# Dynamic int8 settings (quantize_dynamic). "avx2": u8 weights with reduce_range (7-bit), safe on
# every x86 CPU: without VNNI, u8 x s8 products saturate int16 in MLAS's AVX2 kernel. "vnni": s8
# weights, full range; MLAS's VNNI kernel (avx512_vnni / avx_vnni) runs it much faster, at the
# same fidelity, but the file should not be used on a CPU without VNNI.
QUANTIZATIONS = {
    "avx2": {"per_channel": True, "reduce_range": True, "weight_type": "QUInt8"},
    "vnni": {"per_channel": True, "reduce_range": False, "weight_type": "QInt8"},
}


# --------------------------------------------------------------------------- where the files go


def onnx_dir_for(model_path: str | Path, models_dir: Path) -> Path:
    """``<models_dir>/<model folder name>-onnx``: the ONNX files for the model folder ``model_path``."""
    return Path(models_dir) / f"{Path(model_path).name}-onnx"


def cpu_has_vnni() -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return "avx512_vnni" in flags or "avx_vnni" in flags


def quantization_flavor(value: str | None = None) -> str:
    """The int8 weight format for a TRACUU_ONNX_QUANT value: "auto" (vnni when this CPU has VNNI, else
    avx2), "avx2" or "vnni"."""
    flavor = (value or "auto").strip().lower()
    if flavor == "auto":
        return "vnni" if cpu_has_vnni() else "avx2"
    if flavor not in QUANTIZATIONS:
        raise ValueError(f"TRACUU_ONNX_QUANT must be avx2, vnni or auto, not {flavor!r}")
    return flavor


def source_fingerprint(model_dir: Path, quantization: str | None = None) -> str:
    """What the exported files depend on: the model folder (as ``model_identity`` sees it), the
    export and quantization settings and the onnxruntime version (its optimizer wrote the graph)."""
    import onnxruntime

    parts = {
        "model": model_identity("", str(model_dir)),
        "export": EXPORT_VERSION,
        "opset": OPSET,
        "quantization": QUANTIZATIONS[quantization_flavor(quantization)],
        "onnxruntime": onnxruntime.__version__,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _read_source(out_dir: Path) -> dict:
    try:
        data = json.loads((Path(out_dir) / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json_atomic(path: Path, obj: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _model_config(model_dir: Path) -> dict:
    return json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- export


def _is_current(model_dir: Path, out_dir: Path, quantization: str) -> bool:
    source = _read_source(out_dir)
    return (source.get("fingerprint") == source_fingerprint(model_dir, quantization)
            and all((out_dir / name).is_file() for name in FILES.values()))


def export_onnx(model_dir: Path, out_dir: Path, quantization: str | None = None) -> dict[str, Path]:
    """Export the model folder's BertModel to ``out_dir``: ``model-fp32.onnx`` (fused by
    onnxruntime's BERT optimizer) and ``model-int8.onnx`` (that graph with dynamic int8 weights).

    Cached: nothing is done when ``out_dir/onnx-source.json`` records the same source fingerprint.
    Each file is written to a temporary name and renamed, and onnx-source.json is written last, so
    an interrupted export leaves no folder that looks complete. ``quantization`` is a key of
    QUANTIZATIONS or "auto" (default: ``TRACUU_ONNX_QUANT``, else "avx2"); changing it rebuilds.
    Returns {"fp32": path, "int8": path}.
    """
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    flavor = quantization_flavor(quantization)
    paths = {precision: out_dir / name for precision, name in FILES.items()}
    if _is_current(model_dir, out_dir, flavor):
        return paths

    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_exports(out_dir)
    work = Path(tempfile.mkdtemp(prefix=".export.", dir=out_dir))
    try:
        raw, fused, int8 = work / "raw.onnx", work / FILES["fp32"], work / FILES["int8"]
        _export_raw(model_dir, raw)
        _fuse(model_dir, raw, fused)
        raw.unlink()
        _quantize(fused, int8, QUANTIZATIONS[flavor])
        (out_dir / SOURCE_FILE).unlink(missing_ok=True)  # the folder is incomplete from here on
        for precision, path in paths.items():
            os.chmod(work / path.name, 0o644)
            os.replace(work / path.name, path)
        _write_json_atomic(out_dir / SOURCE_FILE, {
            "fingerprint": source_fingerprint(model_dir, flavor),
            "source": str(model_dir.resolve()),
            "model": model_identity("", str(model_dir)),
            "export_version": EXPORT_VERSION,
            "opset": OPSET,
            "quantization": {"flavor": flavor, **QUANTIZATIONS[flavor]},
            "files": {p: path.name for p, path in paths.items()},
        })
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return paths


def _remove_abandoned_exports(out_dir: Path, older_than_s: float = 3600) -> None:
    """Work folders left by a killed export (~600 MB each); a running export's is younger."""
    import time

    for work in out_dir.glob(".export.*"):
        try:
            if work.is_dir() and time.time() - work.stat().st_mtime > older_than_s:
                shutil.rmtree(work, ignore_errors=True)
        except OSError:
            pass


def _export_raw(model_dir: Path, out: Path) -> None:
    """torch.onnx.export (TorchScript exporter) of BertModel -> last_hidden_state, batch and
    sequence axes dynamic. Eager attention: onnxruntime's BERT fusion recognizes its pattern (the
    SDPA graph is left unfused)."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_dir, add_pooling_layer=False, attn_implementation="eager")
    model.eval()

    class LastHidden(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    config = _model_config(model_dir)
    ids = torch.tensor([[config.get("bos_token_id", 0), 100, 200, 300, config.get("eos_token_id", 2)]] * 2)
    mask = torch.ones_like(ids)
    mask[1, -1] = 0  # a padded row, so the mask path is traced with real masking
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, OUTPUT)}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarning / DeprecationWarning noise of the legacy exporter
        torch.onnx.export(LastHidden(model), (ids, mask, torch.zeros_like(ids)), str(out),
                          input_names=list(INPUTS), output_names=[OUTPUT], dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=True, dynamo=False)


def _fuse(model_dir: Path, raw: Path, out: Path) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    config = _model_config(model_dir)
    optimized = optimize_model(str(raw), model_type="bert", num_heads=int(config["num_attention_heads"]),
                               hidden_size=int(config["hidden_size"]))
    stats = optimized.get_fused_operator_statistics()
    if not stats.get("Attention"):
        log.warning("onnxruntime's BERT optimizer fused no Attention node (%s); int8 will be slower", stats)
    optimized.save_model_to_file(str(out))


def _quantize(fused: Path, out: Path, settings: dict) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    quiet = _DropRecords("pre-processing before quantization")  # logged on the root logger
    root.addFilter(quiet)
    try:
        quantize_dynamic(
            str(fused), str(out),
            per_channel=settings["per_channel"],
            reduce_range=settings["reduce_range"],
            weight_type=getattr(QuantType, settings["weight_type"]),
            # shape inference cannot type the outputs of the fused contrib ops (Attention, ...)
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.removeFilter(quiet)


class _DropRecords(logging.Filter):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()
