"""A drawing in a link: the 28x28 input the network saw, packed for the address bar. Pure: no Streamlit.

    text = encode_drawing(x28)       # "1." + base64url(zlib(float32 pixels)): about 600-1,400 characters
    x28 = decode_drawing(text)       # the same array, bit for bit, or DrawingLinkError saying what is wrong

The pixels travel exactly (float32), so the link reopens the same reading, not a close one.
Whatever arrives is treated as hostile: the length is capped before anything is decoded, the
decompression stops past one image's bytes (no zip bomb), and the values must be finite in [0, 1].
"""

import base64
import binascii
import zlib

import numpy as np
from numpy.typing import ArrayLike, NDArray

VERSION = "1."
SIDE = 28
N_BYTES = SIDE * SIDE * 4  # float32
MAX_LINK_CHARS = 4096  # a drawing link longer than this is refused unread


class DrawingLinkError(ValueError):
    """A drawing link that cannot be read; the message says why, for the visitor."""


def encode_drawing(x28: ArrayLike) -> str:
    """(28, 28) floats in [0, 1] -> the compact text of a drawing link."""
    x = np.asarray(x28, dtype=np.float32)
    if x.shape != (SIDE, SIDE):
        raise ValueError(f"a drawing is 28x28, got {x.shape}")
    packed = zlib.compress(np.ascontiguousarray(x).astype("<f4").tobytes(), 9)
    return VERSION + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode_drawing(text: object) -> NDArray[np.float32]:
    """The (28, 28) float32 drawing of a link's text; DrawingLinkError naming what is wrong."""
    if not isinstance(text, str) or not text:
        raise DrawingLinkError("The drawing in this link is empty.")
    if len(text) > MAX_LINK_CHARS:
        raise DrawingLinkError(f"The drawing in this link is too long ({len(text):,} characters; "
                               f"at most {MAX_LINK_CHARS:,}).")
    if not text.startswith(VERSION):
        raise DrawingLinkError("The drawing in this link is not in a format this app knows.")
    body = text[len(VERSION):]
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, N_BYTES + 1)  # stops past one image: no bomb
    except (binascii.Error, ValueError, zlib.error):
        raise DrawingLinkError("The drawing in this link is damaged (it may have been cut short).") from None
    if len(raw) > N_BYTES or inflater.unconsumed_tail:
        raise DrawingLinkError("The drawing in this link is not a 28×28 drawing.")
    if not inflater.eof:
        raise DrawingLinkError("The drawing in this link is damaged (it may have been cut short).")
    if len(raw) != N_BYTES:
        raise DrawingLinkError("The drawing in this link is not a 28×28 drawing.")
    x = np.frombuffer(raw, dtype="<f4").reshape(SIDE, SIDE).astype(np.float32)
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise DrawingLinkError("The drawing in this link has pixel values outside 0 to 1.")
    if not x.any():
        raise DrawingLinkError("The drawing in this link is blank.")
    return x
