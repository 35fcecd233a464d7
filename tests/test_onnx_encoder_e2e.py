"""The onnxruntime encoder (fp32 and dynamic int8) against the torch sentence-transformers encoder."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from tests.conftest import CORPUS

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from tracuu.core.encoders import onnx_encoder as oe  # noqa: E402
from tracuu.core.encoders import onnx_export as ex  # noqa: E402
from tracuu.core.encoders import select  # noqa: E402
from tracuu.core.encoders.torch_encoder import Encoder  # noqa: E402


# Questions about the seed corpus (answers are in its long lines).
QUESTIONS = [
    "Tỉnh Bình Thuận có bao nhiêu dân?",
    "Toàn tỉnh Bình Thuận hiện có bao nhiêu tổ chức cơ sở đảng?",
    "Đảng bộ Khối các cơ quan và doanh nghiệp tỉnh có bao nhiêu tổ chức cơ sở đảng trực thuộc?",
    "Đảng ủy Khối phối hợp với công an tỉnh nào để sưu tra hồ sơ kết nạp đảng?",
    "Đoàn kiểm tra số 3 làm việc với Ban Thường vụ Thành ủy Hà Nội vào hôm nào?",
    "Chỉ thị 39 đề ra mấy quan điểm và mấy nhiệm vụ chủ yếu?",
    "Năm 2018 trong tỉnh xảy ra mấy vụ lộ, lọt bí mật nhà nước?",
    "Sau 5 năm thực hiện Chỉ thị 39, bao nhiêu đảng viên bị kỷ luật?",
    "Ai là Cục trưởng Cục Bảo vệ chính trị nội bộ, Ban Tổ chức Trung ương?",
    "binh thuan co bao nhieu dang vien",
]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.fixture(scope="module")
def settings():
    from tracuu.settings import Settings

    return Settings()


@pytest.fixture(scope="module")
def onnx_files(model_dir):
    return ex.export_onnx(model_dir, ex.onnx_dir_for(model_dir, model_dir.parent))


@pytest.fixture(scope="module")
def passages() -> list[str]:
    lines = [line.strip() for path in sorted(CORPUS.glob("*.txt")) for line in path.read_text("utf-8").splitlines()]
    long = [line for line in lines if len(line) > 80]
    assert len(long) >= 50
    return long


@pytest.fixture(scope="module")
def torch_vectors(encoder, passages) -> dict[str, np.ndarray]:
    return {"passage": encoder.encode_passages(passages), "query": encoder.encode_queries(passages)}


@pytest.fixture(scope="module")
def onnx_encoders(onnx_files, settings) -> dict[str, oe.OnnxEncoder]:
    return {p: oe.OnnxEncoder(settings.model, settings.models_dir, precision=p) for p in oe.PRECISIONS}


def test_export_writes_both_files_and_is_cached(model_dir, onnx_files, monkeypatch):
    assert set(onnx_files) == {"fp32", "int8"}
    before = {p: (f.stat().st_ino, f.stat().st_mtime_ns, f.stat().st_size) for p, f in onnx_files.items()}
    assert all(size > 1_000_000 for _, _, size in before.values())
    source = json.loads((onnx_files["fp32"].parent / ex.SOURCE_FILE).read_text("utf-8"))
    assert source["fingerprint"] == ex.source_fingerprint(model_dir)

    def must_not_export(*args, **kwargs):
        raise AssertionError("export ran although the files are current")

    monkeypatch.setattr(ex, "_export_raw", must_not_export)
    again = ex.export_onnx(model_dir, ex.onnx_dir_for(model_dir, model_dir.parent))
    assert again == onnx_files
    assert {p: (f.stat().st_ino, f.stat().st_mtime_ns, f.stat().st_size) for p, f in again.items()} == before


def test_export_reruns_when_the_source_changes(model_dir, onnx_files, tmp_path, monkeypatch):
    stale = tmp_path / "stale-onnx"
    stale.mkdir()
    for f in onnx_files.values():
        (stale / f.name).write_bytes(b"old")
    (stale / ex.SOURCE_FILE).write_text(json.dumps({"fingerprint": "an older model"}), "utf-8")
    abandoned = stale / ".export.killed"
    abandoned.mkdir()
    os.utime(abandoned, (time.time() - 7200, time.time() - 7200))

    class Ran(Exception):
        pass

    def ran(*args, **kwargs):
        raise Ran

    monkeypatch.setattr(ex, "_export_raw", ran)
    with pytest.raises(Ran):
        ex.export_onnx(model_dir, stale)
    assert not list(stale.glob(".export.*")), "the temporary folder and an abandoned one are removed"


@pytest.mark.parametrize("kind", ["passage", "query"])
@pytest.mark.parametrize("precision,min_mean", [("int8", 0.995), ("fp32", 0.9999)])
def test_vectors_are_close_to_torch(onnx_encoders, torch_vectors, passages, precision, min_mean, kind):
    enc = onnx_encoders[precision]
    got = enc.encode_passages(passages) if kind == "passage" else enc.encode_queries(passages)
    cos = cosines(got, torch_vectors[kind])
    report = f"{precision}/{kind}: n={len(cos)} mean cosine {cos.mean():.5f}, min {cos.min():.5f}"
    print(report)
    assert cos.mean() >= min_mean, report
    assert cos.min() >= 0.98, report


def test_fidelity_reports_both_precisions(model_dir, encoder, passages):
    report = select.fidelity(model_dir, passages[:8], reference=encoder)
    assert report["n"] == 8
    for precision in oe.PRECISIONS:
        for part in (report[precision], report[precision]["passage"], report[precision]["query"]):
            assert 0.98 <= part["min"] <= part["mean"] <= 1.0 + 1e-6


@pytest.mark.parametrize("precision", oe.PRECISIONS)
def test_shapes_normalization_and_order(onnx_encoders, encoder, passages, precision):
    enc = onnx_encoders[precision]
    assert enc.dim == encoder.dim
    q = enc.encode_queries(["Bình Thuận có bao nhiêu dân?", "x", ""])
    assert q.shape == (3, enc.dim) and q.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
    assert enc.encode_queries([]).shape == (0, enc.dim)

    batches: list[int] = []
    p = enc.encode_passages(passages, on_batch=batches.append)
    assert p.shape == (len(passages), enc.dim) and p.dtype == np.float32
    assert sum(batches) == len(passages) and max(batches) <= 32
    # rows come back in input order, whatever batch (and padding) they ran in
    alone = np.concatenate([enc.encode_passages([t]) for t in passages[:5]])
    assert cosines(alone, p[:5]).min() > (0.999999 if precision == "fp32" else 0.99)


def test_prepare_matches_torch(onnx_encoders, encoder):
    enc = onnx_encoders["int8"]
    for text in ["Tỉnh uỷ Bình Thuận", "Ho\u0300a bi\u0300nh"]:
        assert enc.prepare(text) == encoder.prepare(text)
    old, new = enc.encode_queries(["Tỉnh uỷ Bình Thuận", "Tỉnh ủy Bình Thuận"])
    assert float(old @ new) > 0.99999


def test_model_id_equals_torch(onnx_encoders, encoder):
    for enc in onnx_encoders.values():
        assert enc.model_id == encoder.model_id
        assert enc.name == encoder.name and enc.path == encoder.path


def test_vectors_id_names_the_backend(onnx_encoders, encoder):
    """Same model (an index built with one backend is served by another), but not the same vectors."""
    assert encoder.vectors_id == encoder.model_id
    assert onnx_encoders["fp32"].vectors_id == encoder.model_id + "+onnx-fp32"
    assert onnx_encoders["int8"].vectors_id == f"{encoder.model_id}+onnx-int8-{ex.quantization_flavor()}"


def test_indexing_backend(settings, onnx_files):
    auto = select.load_indexing_encoder(settings.model, settings.models_dir)
    if ex.cpu_has_vnni():  # int8 is 1.5x torch with VNNI: it indexes
        assert isinstance(auto, oe.OnnxEncoder) and auto.precision == "int8"
    else:  # without VNNI int8 is barely faster than torch: torch indexes
        assert isinstance(auto, Encoder)
    assert isinstance(select.load_indexing_encoder(settings.model, settings.models_dir, "auto", "avx2"), Encoder)
    assert select.load_indexing_encoder(settings.model, settings.models_dir, "onnx-fp32").precision == "fp32"


def test_the_embedding_cache_never_mixes_backends(settings, onnx_encoders, encoder, tmp_path):
    from indexer.build import build_index
    from indexer.embedding_cache import EmbeddingCache
    from tracuu.core.store import read_manifest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Tiêu đề\n\nĐoạn thứ nhất nói về tỉnh Bình Thuận.\n\nĐoạn thứ hai nói về Chỉ thị 39.\n",
                                  encoding="utf-8")
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    first = build_index(corpus, tmp_path / "i1", encoder, cache)
    again = build_index(corpus, tmp_path / "i2", encoder, cache)
    other = build_index(corpus, tmp_path / "i3", onnx_encoders["fp32"], cache)
    assert first.embedded > 0 and again.embedded == 0
    assert other.embedded == first.embedded  # torch vectors are not reused for onnx
    assert read_manifest(tmp_path / "i3")["model"]["vectors"] == onnx_encoders["fp32"].vectors_id
    assert read_manifest(tmp_path / "i1")["model"]["id"] == read_manifest(tmp_path / "i3")["model"]["id"]


def test_load_encoder_backends(settings, onnx_files):
    chosen = select.load_encoder(settings.model, settings.models_dir, backend="auto")
    assert isinstance(chosen, oe.OnnxEncoder) and chosen.precision == "int8"
    verdict = json.loads((onnx_files["int8"].parent / ex.SOURCE_FILE).read_text("utf-8"))["auto"]
    assert verdict["precision"] == "int8" and verdict["n"] >= 30
    assert select.load_encoder(settings.model, settings.models_dir, backend="onnx-fp32").precision == "fp32"
    with pytest.raises(ValueError):
        select.load_encoder(settings.model, settings.models_dir, backend="tensorrt")


def test_auto_falls_back_to_torch_when_export_fails(settings, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no exporter here")

    monkeypatch.setattr(select, "export_onnx", broken)
    with pytest.warns(RuntimeWarning, match="using torch"):
        chosen = select.load_encoder(settings.model, settings.models_dir, backend="auto")
    assert isinstance(chosen, Encoder)


def test_quantization_flavor(model_dir):
    assert ex.quantization_flavor() == ("vnni" if ex.cpu_has_vnni() else "avx2")  # default: auto
    assert ex.QUANTIZATIONS["avx2"] == {"per_channel": True, "reduce_range": True, "weight_type": "QUInt8"}
    assert ex.quantization_flavor("avx2") == "avx2"
    assert ex.source_fingerprint(model_dir, "vnni") != ex.source_fingerprint(model_dir, "avx2")
    with pytest.raises(ValueError):
        ex.quantization_flavor("fp8")


@pytest.mark.skipif(not ex.cpu_has_vnni(), reason="the vnni int8 file is meant for CPUs with VNNI")
def test_vnni_int8_is_as_close_to_torch(settings, torch_vectors, passages, tmp_path):
    enc = oe.OnnxEncoder(settings.model, settings.models_dir, "int8", onnx_dir=tmp_path / "vnni", quantization="vnni")
    source = json.loads((tmp_path / "vnni" / ex.SOURCE_FILE).read_text("utf-8"))
    assert source["quantization"]["flavor"] == "vnni" and source["quantization"]["weight_type"] == "QInt8"
    for kind, got in [("passage", enc.encode_passages(passages)), ("query", enc.encode_queries(passages))]:
        cos = cosines(got, torch_vectors[kind])
        report = f"int8-vnni/{kind}: n={len(cos)} mean cosine {cos.mean():.5f}, min {cos.min():.5f}"
        print(report)
        assert cos.mean() >= 0.995 and cos.min() >= 0.98, report


def test_settings_choose_the_encoders(monkeypatch):
    """TRACUU_BACKEND / TRACUU_ONNX_QUANT go through the one settings object; a bad value is refused."""
    from pydantic import ValidationError

    from tracuu.settings import Settings

    monkeypatch.setenv("TRACUU_BACKEND", "onnx-fp32")
    monkeypatch.setenv("TRACUU_ONNX_QUANT", "avx2")
    chosen = Settings()
    assert (chosen.backend, chosen.onnx_quant) == ("onnx-fp32", "avx2")
    monkeypatch.setenv("TRACUU_ONNX_QUANT", "fp8")
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize("precision", oe.PRECISIONS)
def test_ranking_on_the_seed_corpus_is_nearly_the_same(onnx_encoders, encoder, torch_vectors, passages, precision):
    enc = onnx_encoders[precision]
    torch_scores = encoder.encode_queries(QUESTIONS) @ torch_vectors["passage"].T
    onnx_scores = enc.encode_queries(QUESTIONS) @ enc.encode_passages(passages).T
    torch_top1 = torch_scores.argmax(axis=1)
    onnx_top3 = np.argsort(-onnx_scores, axis=1)[:, :3]
    agree = sum(int(t in top3) for t, top3 in zip(torch_top1, onnx_top3))
    same_top1 = int((onnx_scores.argmax(axis=1) == torch_top1).sum())
    print(f"{precision}: torch top-1 in onnx top-3 {agree}/{len(QUESTIONS)}, same top-1 {same_top1}/{len(QUESTIONS)}")
    assert agree >= 9, f"{precision}: torch's top-1 is in onnx's top-3 for {agree} of {len(QUESTIONS)} questions"
