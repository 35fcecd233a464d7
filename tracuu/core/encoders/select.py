"""Which encoder embeds queries and passages: torch, or onnxruntime fp32 / int8 by a fidelity check.

One query through sentence-transformers on torch takes ~30 ms on two cores; the fused onnxruntime
graph takes a fraction of that (see ``scripts/bench_encoders.py``). ``OnnxEncoder`` has the public
shape of ``tracuu.core.encoders.torch_encoder.Encoder`` (``name``, ``path``, ``dim``, ``model_id``, ``prepare``,
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
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tracuu.core.encoders.model_convert import ensure_model
from tracuu.core.encoders.onnx_encoder import PRECISIONS, OnnxEncoder
from tracuu.core.encoders.onnx_export import (SOURCE_FILE, _read_source, _write_json_atomic, export_onnx,
                                              onnx_dir_for, quantization_flavor)
from tracuu.core.encoders.torch_encoder import Encoder

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx-fp32", "onnx-int8")
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


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def fidelity(model_dir: Path, texts: Sequence[str], precisions: Sequence[str] = PRECISIONS,
             reference: Encoder | None = None, onnx_dir: Path | None = None, quantization: str = "auto") -> dict:
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
        onnx_encoder = OnnxEncoder(str(model_dir), model_dir.parent, precision=precision, onnx_dir=onnx_dir,
                                   quantization=quantization)
        got = {"passage": onnx_encoder.encode_passages(texts), "query": onnx_encoder.encode_queries(texts)}
        cos = {kind: _cosines(got[kind], expected[kind]) for kind in expected}
        both = np.concatenate(list(cos.values()))
        report[precision] = {
            **{kind: {"mean": float(c.mean()), "min": float(c.min())} for kind, c in cos.items()},
            "mean": float(both.mean()), "min": float(both.min()),
        }
    return report


def _auto_precision(model_dir: Path, onnx_dir: Path, quantization: str = "auto") -> str:
    """int8 if it is faithful enough on CHECK_SENTENCES, else fp32; computed once per export."""
    key = hashlib.sha256(json.dumps([CHECK_SENTENCES, AUTO_MIN_MEAN_COSINE]).encode()).hexdigest()[:16]
    source = _read_source(onnx_dir)
    verdict = source.get("auto")
    if isinstance(verdict, dict) and verdict.get("check") == key and verdict.get("precision") in PRECISIONS:
        return verdict["precision"]
    report = fidelity(model_dir, CHECK_SENTENCES, precisions=("int8",), onnx_dir=onnx_dir, quantization=quantization)
    ok = all(report["int8"][kind]["mean"] >= AUTO_MIN_MEAN_COSINE for kind in ("passage", "query"))
    precision = "int8" if ok else "fp32"
    if not ok:
        log.warning("onnx int8 is not faithful enough (%s); using onnx fp32", report["int8"])
    source["auto"] = {"check": key, "precision": precision, "threshold": AUTO_MIN_MEAN_COSINE,
                      "fidelity": report["int8"], "n": report["n"]}
    _write_json_atomic(onnx_dir / SOURCE_FILE, source)
    return precision


def load_encoder(model_name: str, models_dir: Path, backend: str = "auto",
                 quantization: str = "auto") -> Encoder | OnnxEncoder:
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
        return OnnxEncoder(model_name, models_dir, precision=backend.removeprefix("onnx-"), quantization=quantization)
    try:
        import onnxruntime  # noqa: F401

        path = Path(ensure_model(model_name, models_dir))
        if not path.is_dir():
            raise ValueError(f"{model_name!r} is not a local model folder")
        onnx_dir = onnx_dir_for(path, models_dir)
        export_onnx(path, onnx_dir, quantization)
        precision = _auto_precision(path, onnx_dir, quantization)
        return OnnxEncoder(model_name, models_dir, precision=precision, onnx_dir=onnx_dir, quantization=quantization)
    except Exception as exc:  # noqa: BLE001 - any failure here means "use torch"
        message = f"onnx encoder unavailable ({type(exc).__name__}: {exc}); using torch"
        log.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return Encoder(model_name, models_dir)


def load_indexing_encoder(model_name: str, models_dir: Path, backend: str = "auto",
                          quantization: str = "auto") -> Encoder | OnnxEncoder:
    """The encoder that embeds passages. "auto": onnx-int8 where it is both fast and faithful (the
    vnni flavor, and the same fidelity verdict as the query side), else torch: without VNNI, int8
    indexes only 1.15x faster than torch, not worth vectors further from the reference. Any other
    value is ``load_encoder``'s."""
    backend = (backend or "auto").strip().lower()
    if backend != "auto":
        return load_encoder(model_name, models_dir, backend, quantization)
    if quantization_flavor(quantization) == "vnni":
        encoder = load_encoder(model_name, models_dir, "auto", quantization)
        if getattr(encoder, "precision", None) == "int8":
            return encoder
    return Encoder(model_name, models_dir)


def settings_encoders(settings) -> tuple[Encoder | OnnxEncoder, Encoder | OnnxEncoder]:
    """(passage encoder, query encoder) as the settings configure them; one object when both are the
    same backend (the int8 file on a VNNI CPU), so the model is loaded once."""
    passages = load_indexing_encoder(settings.model, settings.models_dir, settings.index_backend, settings.onnx_quant)
    same = settings.backend == settings.index_backend and (
        settings.backend != "auto" or getattr(passages, "precision", None) == "int8")  # auto: int8 on both sides
    if same:
        return passages, passages
    return passages, load_encoder(settings.model, settings.models_dir, settings.backend, settings.onnx_quant)
