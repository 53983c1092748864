"""Turn a drawn or photographed digit into the 28x28 input the network expects.

MNIST was made this way (LeCun et al.): each digit's bounding box was scaled,
keeping its aspect ratio, to fit a 20x20 box with anti-aliasing, then placed in
a 28x28 field so that its intensity-weighted centre of mass sits at the centre.
Doing the same to a canvas drawing makes a small digit in a corner look like a
large digit in the middle, which is what a network trained on MNIST has seen.

Conventions (checked against the 60,000 MNIST training images):

* Output: float32 (28, 28), ink = 1, background = 0, brightest pixel = 1.0.
* The longer side of the ink's bounding box is 20 px.
* The centre of mass, in array-index coordinates (pixel ``i`` spans
  ``[i - 0.5, i + 0.5)``), lies in ``[13.5, 14.5)`` on both axes: MNIST's mean
  is (13.996, 14.007) and every training image falls in that range, so MNIST
  shifted by a whole number of pixels so that the centre of mass rounds to 14.
* An image with no visible ink gives ``None`` rather than an all-zero array,
  so a caller cannot mistake a blank canvas for a digit.
"""

from __future__ import annotations

import math
import os
from typing import Any, Union, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "PREPROCESS_VERSION",
    "FIELD_SIZE",
    "BOX_SIZE",
    "CENTRE",
    "MAX_PIXELS",
    "WORK_SIDE",
    "EMPTY_LEVEL",
    "DEFAULT_THRESHOLD",
    "CORE_FRACTION",
    "preprocess",
    "to_model_input",
    "load_image",
]

#: Stored in model files; bump it whenever the output of ``preprocess`` changes.
PREPROCESS_VERSION = 1

FIELD_SIZE = 28
BOX_SIZE = 20
#: Target centre of mass (row, column) in array-index coordinates.
CENTRE = 14.0

#: Larger inputs are refused: nobody draws a digit on 40 megapixels, and
#: decoding one costs hundreds of megabytes.
MAX_PIXELS = 40_000_000
#: Inputs with a longer side are first shrunk by a whole factor (box filter)
#: so the float work stays small; the digit ends up 20 px tall anyway.
WORK_SIDE = 2000

#: Ink below this level (on a 0..1 scale, about 13/255) is invisible on screen;
#: an image whose strongest ink is fainter counts as empty.
EMPTY_LEVEL = 0.05
#: Pixels fainter than this fraction of the strongest ink do not widen the
#: bounding box, so JPEG ringing and stray haze do not shrink the digit. On
#: MNIST itself this only trims a few fringe pixels fainter than 25/255.
DEFAULT_THRESHOLD = 0.1

#: The brightest 5% of a digit's stroke pixels count as its core and are set
#: to 1.0. MNIST's core is saturated already: on its 60,000 training digits
#: this brightens 2.3% by more than 1% and 1 in 2,000 by more than 6%.
CORE_FRACTION = 0.05

# ITU-R 601 luma, the weights Pillow uses for convert("L").
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

#: An image of any dtype preprocess accepts (see its docstring), or a PIL image.
ImageLike = Union[NDArray[Any], Image.Image]
Float32s = NDArray[np.float32]


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #
def preprocess(
    image: ImageLike,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    invert: bool | None = None,
) -> Float32s | None:
    """Return the MNIST-style (28, 28) float32 image of a digit, or None if blank.

    ``image`` is a PIL image of any mode, or a numpy array shaped (H, W),
    (H, W, 1), (H, W, 2) (grey + alpha), (H, W, 3) or (H, W, 4), holding uint8
    0..255, uint16 0..65535, bool, or floats in [0, 1].

    Polarity is detected from the image's outer frame (a light frame means
    dark ink on light paper, which is inverted); pass ``invert`` to force it.
    Transparent pixels are background. ``threshold`` is the fraction of the
    strongest ink a pixel needs to count towards the bounding box.

    Raises ValueError for unusable input (empty, wrong shape or dtype, too big).
    """
    _check_options(threshold, invert)
    grey, alpha = _grey_and_alpha(image)  # (H, W) float32 each, alpha may be None
    ink = _ink_map(grey, alpha, invert)  # (H, W) float32, background 0
    box = _ink_bounding_box(ink, threshold)
    if box is None:
        return None
    digit = _fit_to_box(ink[box])  # (h, w), max(h, w) == 20
    return _centre_in_field(digit)  # (28, 28)


def to_model_input(x28: ArrayLike) -> Float32s:
    """Flatten one (28, 28) image into the (1, 784) float32 row the network takes."""
    x28 = np.asarray(x28)
    if x28.shape != (FIELD_SIZE, FIELD_SIZE):
        raise ValueError(
            f"expected a ({FIELD_SIZE}, {FIELD_SIZE}) image from preprocess, "
            f"got shape {x28.shape}"
        )
    return x28.astype(np.float32, copy=False).reshape(1, FIELD_SIZE * FIELD_SIZE)


def load_image(path: str | os.PathLike[str]) -> NDArray[Any]:
    """Read an image file into an array that ``preprocess`` accepts.

    EXIF rotation is applied when present. 8-bit images come back as uint8
    (H, W[, C]); 16-bit and float images as float32 in [0, 1]. Files that are
    not images, are truncated, or exceed ``MAX_PIXELS`` raise ValueError naming
    the path.
    """
    try:
        with Image.open(path) as img:
            # Image.open reads only the header, so the size check happens
            # before a decompression bomb is ever decoded.
            _check_pixel_count(img.width, img.height)
            img.load()
            arr = _pil_to_array(ImageOps.exif_transpose(img), shrink=False)
    except (Image.DecompressionBombError, UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path}: not a readable image: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    # Arrays over Pillow's buffer are read-only; callers may want to edit theirs.
    return arr if arr.flags.writeable else arr.copy()


# --------------------------------------------------------------------------- #
# Input validation and conversion to float32 grey + alpha
# --------------------------------------------------------------------------- #
def _check_options(threshold: float, invert: bool | None) -> None:
    if not isinstance(threshold, (int, float)) or not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be a number in (0, 1), got {threshold!r}")
    if invert is not None and not isinstance(invert, (bool, np.bool_)):
        raise ValueError(f"invert must be True, False or None, got {invert!r}")


def _check_pixel_count(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"image is empty ({width}x{height} pixels)")
    if width * height > MAX_PIXELS:
        raise ValueError(
            f"image is too large: {width}x{height} = {width * height:,} pixels, "
            f"the limit is {MAX_PIXELS:,}"
        )


def _shrink_factor(width: int, height: int) -> int:
    return max(1, math.ceil(max(width, height) / WORK_SIDE))


def _grey_and_alpha(image: ImageLike) -> tuple[Float32s, Float32s | None]:
    """Validate any accepted input; return grey (H, W) and alpha (H, W) or None."""
    if isinstance(image, Image.Image):
        _check_pixel_count(image.width, image.height)
        arr = _pil_to_array(image, shrink=True)
        arr = arr[:, :, None] if arr.ndim == 2 else arr
    elif isinstance(image, np.ndarray):
        arr = _validated_array(image)
        if _shrink_factor(arr.shape[1], arr.shape[0]) > 1:
            arr = _shrink_array(arr)
    else:
        raise ValueError(
            f"expected a numpy array or PIL image, got {type(image).__name__}"
        )
    return _split_channels(_to_unit_float(arr))


def _validated_array(arr: NDArray[Any]) -> NDArray[Any]:
    """Check shape, size, dtype and value range; return (H, W, C) view."""
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"expected an image shaped (H, W) or (H, W, C), got {arr.ndim} "
            f"dimensions {arr.shape}"
        )
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(
            f"expected 1, 2, 3 or 4 channels, got {arr.shape[2]} (shape {arr.shape})"
        )
    _check_pixel_count(arr.shape[1], arr.shape[0])
    if arr.dtype == np.bool_ or arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f":
        # min/max propagate NaN, so this also catches non-finite values
        # without allocating a mask the size of the image.
        lo, hi = float(arr.min()), float(arr.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("float image contains NaN or infinite values")
        if lo < -1e-6 or hi > 1.0 + 1e-6:
            raise ValueError(
                f"float images must hold values in [0, 1], got [{lo:g}, {hi:g}]"
                + (" (divide 0..255 data by 255)" if hi <= 255 else "")
            )
        return arr
    if arr.dtype.kind in "ui":
        limit = 65535 if arr.dtype == np.uint16 else 255
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > limit:
            raise ValueError(
                f"{arr.dtype} image values must lie in [0, {limit}], got [{lo}, {hi}]"
            )
        return arr
    raise ValueError(
        f"unsupported image dtype {arr.dtype}; use uint8, uint16, bool or float"
    )


def _to_unit_float(arr: NDArray[Any]) -> Float32s:
    """(H, W, C) array of a validated dtype -> float32 in [0, 1]."""
    if arr.dtype.kind == "f":
        clipped: Float32s = np.clip(arr, 0.0, 1.0, dtype=np.float32)
        return clipped
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) * np.float32(1 / 65535)
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    return arr.astype(np.float32) * np.float32(1 / 255)


def _split_channels(x: Float32s) -> tuple[Float32s, Float32s | None]:
    """(H, W, C) float32 -> grey (H, W) and alpha (H, W) or None if opaque."""
    channels = x.shape[2]
    grey = x[:, :, :3] @ _LUMA if channels >= 3 else x[:, :, 0]
    alpha = x[:, :, -1] if channels in (2, 4) else None
    if alpha is not None and alpha.min() >= 1.0:
        alpha = None
    return grey, alpha


def _shrink_array(arr: NDArray[Any]) -> NDArray[np.uint8]:
    """Box-filter a validated (H, W, C) array that is too big to work on in float."""
    factor = _shrink_factor(arr.shape[1], arr.shape[0])
    small = _array_to_pil(_as_uint8(arr)).reduce(factor)
    out = np.asarray(small)
    return out[:, :, None] if out.ndim == 2 else out


def _as_uint8(arr: NDArray[Any], rows: int = 256) -> NDArray[np.uint8]:
    """Quantise to uint8 a band of rows at a time, so no full float copy exists."""
    if arr.dtype == np.uint8:
        return arr
    out = np.empty(arr.shape, dtype=np.uint8)
    for start in range(0, arr.shape[0], rows):
        band = _to_unit_float(arr[start : start + rows])
        out[start : start + rows] = np.rint(band * 255)
    return out


def _array_to_pil(arr: NDArray[np.uint8]) -> Image.Image:
    """(H, W, C) uint8 -> PIL image in L, LA, RGB or RGBA mode."""
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[arr.shape[2]]
    data = arr[:, :, 0] if arr.shape[2] == 1 else arr
    return Image.fromarray(np.ascontiguousarray(data), mode=mode)


def _pil_to_array(img: Image.Image, *, shrink: bool) -> NDArray[Any]:
    """PIL image of any mode -> uint8 (8-bit modes) or float32 in [0, 1] array.

    With ``shrink``, images wider or taller than ``WORK_SIDE`` are reduced
    first, while still compact 8-bit data (Pillow averages RGBA premultiplied).
    """
    img, scale = _normalise_mode(img)
    if shrink:
        factor = _shrink_factor(img.width, img.height)
        if factor > 1:
            img = img.reduce(factor)
    arr = np.asarray(img)
    if scale is not None:
        arr = np.clip(arr * np.float32(1 / scale), 0.0, 1.0, dtype=np.float32)
    return arr


def _normalise_mode(img: Image.Image) -> tuple[Image.Image, float | None]:
    """Convert to L, LA, RGB, RGBA or F; for F also return its full-scale value."""
    mode = img.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return img, None
    if mode == "1":
        return img.convert("L"), None
    if mode.startswith("I;16"):
        return img.convert("F"), 65535.0
    if mode in ("I", "F"):
        # Neither mode says its range. 16-bit PNG/TIFF data opens as "I" or
        # "I;16"; convert("I"/"F") from an 8-bit image keeps 0..255; F data
        # made by hand is usually 0..1. Pick the smallest range that fits.
        lo, hi = cast(tuple[float, float], img.getextrema())  # one band: (min, max)
        if lo < 0 or hi > 65535:
            raise ValueError(
                f"mode {mode} image values must lie in [0, 65535], got [{lo}, {hi}]"
            )
        scale = 1.0 if mode == "F" and hi <= 1 else 255.0 if hi <= 255 else 65535.0
        return img.convert("F"), scale
    # P and PA (palettes may carry transparency), CMYK, YCbCr, LAB, HSV, ...
    return img.convert("RGBA"), None


# --------------------------------------------------------------------------- #
# Ink map, bounding box, size normalisation, centring
# --------------------------------------------------------------------------- #
def _ink_map(grey: Float32s, alpha: Float32s | None, invert: bool | None) -> Float32s:
    """Return ink intensity (H, W) float32: background 0, strokes up to 1."""
    if alpha is not None:
        grey = _composite(grey, alpha)
    border = _border_level(grey)
    if invert is None:
        invert = border > 0.5
    ink = 1.0 - grey if invert else grey
    level = 1.0 - border if invert else border
    # A grey sheet of paper or a dim photo leaves a background above 0;
    # remove it. A level above 0.5 is not background (the caller forced the
    # polarity against the frame, e.g. a digit filling the whole frame).
    if 0.0 < level < 0.5:
        ink = np.clip((ink - level) / (1.0 - level), 0.0, 1.0)
    return ink


def _composite(grey: Float32s, alpha: Float32s) -> Float32s:
    """Flatten grey + alpha over a background contrasting with what is visible.

    Transparent pixels are background. Light strokes on a transparent canvas
    go over black and dark strokes over white, so the strokes stay ink.
    """
    coverage = float(alpha.sum())
    visible_light = coverage > 0 and float((grey * alpha).sum()) / coverage >= 0.5
    background = 0.0 if visible_light else 1.0
    return grey * alpha + background * (1.0 - alpha)


def _border_level(grey: Float32s) -> float:
    """Median of the outer 1-pixel frame: the background unless ink covers most of it."""
    frame = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    return float(np.median(frame))


def _ink_bounding_box(ink: Float32s, threshold: float) -> tuple[slice, slice] | None:
    """Slices of the box around ink >= threshold * max, or None if the image is blank."""
    peak = float(ink.max())
    if peak < EMPTY_LEVEL:
        return None
    mask = ink >= threshold * peak
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _fit_to_box(crop: Float32s) -> Float32s:
    """Scale (h, w) so the longer side is BOX_SIZE, keep aspect, peak 1.0."""
    h, w = crop.shape
    scale = BOX_SIZE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL: (w, h)
    # Area averaging when shrinking keeps thin strokes as grey lines instead of
    # dropping them, and does not ring; bilinear avoids blocky upscaled pixels.
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    small = Image.fromarray(np.ascontiguousarray(crop, dtype=np.float32), mode="F")
    digit = np.asarray(small.resize(size, resample), dtype=np.float32)
    return _saturate(np.clip(digit, 0.0, None))


def _saturate(digit: Float32s) -> Float32s:
    """Scale so the stroke core is 1.0, as in MNIST, where it is 255.

    The core is the brightest ``CORE_FRACTION`` of the stroke pixels, not the
    single brightest pixel: a hairline shrunk 100 times is grey everywhere
    except where strokes cross, and dividing by that one crossing would leave
    the rest of the digit faint.
    """
    peak = float(digit.max())
    strokes = digit[digit >= EMPTY_LEVEL * peak]
    core = float(np.quantile(strokes, 1.0 - CORE_FRACTION))
    saturated: Float32s = np.minimum(digit / core, 1.0)
    return saturated


def _centre_in_field(digit: Float32s) -> Float32s:
    """Place (h, w) in a 28x28 field with its centre of mass in [13.5, 14.5)."""
    h, w = digit.shape
    total = float(digit.sum())
    com_row = float(digit.sum(axis=1) @ np.arange(h, dtype=np.float32)) / total
    com_col = float(digit.sum(axis=0) @ np.arange(w, dtype=np.float32)) / total
    top = _offset(com_row, h)
    left = _offset(com_col, w)
    field = np.zeros((FIELD_SIZE, FIELD_SIZE), dtype=np.float32)
    field[top : top + h, left : left + w] = digit
    return field


def _offset(com: float, length: int) -> int:
    """Whole-pixel offset putting ``com`` in [CENTRE - 0.5, CENTRE + 0.5).

    Clamped so that no ink is pushed out of the field; a lopsided digit then
    ends up nearer the edge than MNIST would put it, but whole.
    """
    offset = math.ceil(CENTRE - 0.5 - com)
    return min(max(offset, 0), FIELD_SIZE - length)
