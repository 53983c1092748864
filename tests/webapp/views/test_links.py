"""Drawings in links: exact round trip, and a clear refusal of anything else (one line per case)."""

import base64
import zlib

import numpy as np
import pytest

from webapp.views.links import MAX_LINK_CHARS, DrawingLinkError, decode_drawing, encode_drawing


def digit(seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((28, 28), np.float32)
    x[4:24, 10:18] = rng.random((20, 8)).astype(np.float32)
    return x


def pack(raw):
    return "1." + base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


def test_a_drawing_comes_back_bit_for_bit_in_a_compact_link():
    for seed in range(5):
        x = digit(seed)
        text = encode_drawing(x)
        assert text.startswith("1.") and len(text) < 2000
        assert set(text[2:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        np.testing.assert_array_equal(decode_drawing(text), x)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("1." + "A" * MAX_LINK_CHARS, "too long"),
    ("2." + encode_drawing(digit())[2:], "not in a format"),
    ("1.!!!not base64!!!", "damaged"),
    ("1.AAAA", "damaged"),
    (encode_drawing(digit())[:-40], "damaged"),
    (pack(b"\0" * 100), "not a 28×28"),
    (pack(np.zeros((28, 29), "<f4").tobytes()), "not a 28×28"),
    (pack(b"\0" * 2_000_000), "not a 28×28"),  # a zip bomb: inflated only one image's worth
    (pack(np.full((28, 28), np.nan, "<f4").tobytes()), "outside 0 to 1"),
    (pack(np.full((28, 28), 7, "<f4").tobytes()), "outside 0 to 1"),
    (pack(np.full((28, 28), -1, "<f4").tobytes()), "outside 0 to 1"),
    (pack(np.zeros((28, 28), "<f4").tobytes()), "blank"),
    ("1.'; DROP TABLE models;--", "damaged"),
])
def test_hostile_drawing_links_are_refused_with_a_reason(text, message):
    with pytest.raises(DrawingLinkError, match=message):
        decode_drawing(text)
