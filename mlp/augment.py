"""Training-time augmentation: random affine, elastic and stroke-width changes, vectorised.

    config = AugmentConfig()                       # or AugmentConfig.none()
    x = augment_batch(images_uint8, rng, config)   # (n, 784) float32 in [0, 1]

Everything a batch needs is drawn at once and applied with array operations:

* One affine map per sample (rotation, scale, shear, shift about the centre of
  the field), inverted so every output pixel knows where to sample from.
* An elastic displacement field (Simard et al. 2003) added to those sampling
  coordinates: random values on a coarse grid of control points, spread over
  the 28x28 field by a fixed separable Gaussian matrix, so it costs two small
  matrix products instead of a 2-D convolution per image.
* One bilinear gather for all samples (zero outside the image).
* Stroke thickening/thinning on a random subset: a blend towards the grey
  dilation (max of shifted views) or erosion (min of shifted views).

All randomness comes from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .arrays import Floats, Inputs
from .hyperparams import AUGMENT_PARAMS, DEFAULTS, check

__all__ = [
    "AugmentConfig",
    "augment_batch",
    "random_affine",
    "affine_matrices",
    "random_thickness",
    "elastic_field",
    "warp",
    "change_thickness",
]

SIDE = 28
#: Centre of the field in array-index coordinates (pixel i spans [i-0.5, i+0.5)).
_CENTRE = (SIDE - 1) / 2


@dataclass
class AugmentConfig:
    """How strongly to distort each training image. Every draw is uniform in its range.

    max_shift: pixels, per axis, in [-max_shift, max_shift].
    max_rotation: degrees, counter-clockwise as displayed, in [-max, max].
    min_scale, max_scale: size factor (1 = unchanged).
    max_shear: horizontal shear x += k * y, k in [-max_shear, max_shear] (slant).
    elastic_alpha: RMS displacement of the elastic field in pixels (0 = off).
    elastic_sigma: smoothness of that field in pixels (Simard et al. use 4).
    thickness_prob: fraction of images whose strokes get thicker or thinner.
    """

    # Defaults and valid ranges live in mlp.hyperparams.AUGMENT_PARAMS.
    max_shift: float = DEFAULTS["max_shift"]
    max_rotation: float = DEFAULTS["max_rotation"]
    min_scale: float = DEFAULTS["min_scale"]
    max_scale: float = DEFAULTS["max_scale"]
    max_shear: float = DEFAULTS["max_shear"]
    elastic_alpha: float = DEFAULTS["elastic_alpha"]
    elastic_sigma: float = DEFAULTS["elastic_sigma"]
    thickness_prob: float = DEFAULTS["thickness_prob"]

    @classmethod
    def none(cls) -> AugmentConfig:
        """A config that changes nothing: augment_batch then only converts to floats."""
        return cls(max_shift=0.0, max_rotation=0.0, min_scale=1.0, max_scale=1.0,
                   max_shear=0.0, elastic_alpha=0.0, thickness_prob=0.0)

    @property
    def is_geometric(self) -> bool:
        """True if pixels move (affine or elastic)."""
        return (self.max_shift > 0 or self.max_rotation > 0 or self.min_scale != 1
                or self.max_scale != 1 or self.max_shear > 0 or self.elastic_alpha > 0)

    @property
    def is_active(self) -> bool:
        """True if augment_batch changes images at all."""
        return self.is_geometric or self.thickness_prob > 0

    def problems(self) -> dict[str, str]:
        """{field: message} for every setting that makes no sense (empty if all is well)."""
        found: dict[str, str] = {}
        for name, param in AUGMENT_PARAMS.items():
            message = check(param, getattr(self, name))
            if message:
                found[name] = message
        return found

    def validate(self) -> AugmentConfig:
        """Raise ValueError naming the first bad setting; returns self."""
        found = self.problems()
        if found:
            raise ValueError(next(iter(found.values())))
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every setting."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AugmentConfig:
        """Build from a dict, ignoring unknown keys (older or newer model files)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# --------------------------------------------------------------------------- #
# The whole pipeline
# --------------------------------------------------------------------------- #
def augment_batch(images: Inputs, rng: np.random.Generator, config: AugmentConfig) -> NDArray[np.float32]:
    """Randomly distorted copies of a batch, as (n, 784) float32 inputs in [0, 1].

    images: (n, 28, 28) or (n, 784), uint8 0..255 or floats in [0, 1].
    With an inactive config the result equals ``to_inputs(images)`` exactly.
    """
    x = _as_unit_images(images)  # (n, 28, 28) float32
    n = len(x)
    if config.is_geometric and n:
        matrices, offsets = random_affine(n, rng, config)
        field = None
        if config.elastic_alpha > 0:
            field = elastic_field(n, rng, config.elastic_alpha, config.elastic_sigma)
        x = warp(x, matrices, offsets, field)
    if config.thickness_prob > 0 and n:
        x = change_thickness(x, random_thickness(n, rng, config.thickness_prob))
    return x.reshape(n, SIDE * SIDE)


def _as_unit_images(images: ArrayLike) -> NDArray[np.float32]:
    """Any accepted batch -> a new (n, 28, 28) float32 array in [0, 1]."""
    images = np.asarray(images)
    if images.ndim not in (2, 3) or images.shape[1:] not in ((SIDE * SIDE,), (SIDE, SIDE)):
        raise ValueError(f"expected images shaped (n, 28, 28) or (n, 784), got {images.shape}")
    flat = images.reshape(len(images), SIDE, SIDE)
    if images.dtype == np.uint8:
        # The same arithmetic as training.to_inputs, so an inactive config is exact.
        scaled: NDArray[np.float32] = np.multiply(flat, np.float32(1 / 255), dtype=np.float32)
        return scaled
    if images.dtype.kind != "f":
        raise ValueError(f"expected uint8 or float images, got {images.dtype}")
    return np.array(flat, dtype=np.float32)  # a copy: the caller's data is never modified


# --------------------------------------------------------------------------- #
# Random parameters
# --------------------------------------------------------------------------- #
def random_affine(n: int, rng: np.random.Generator,
                  config: AugmentConfig) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Random forward affine maps for n samples: matrices (n, 2, 2), offsets (n, 2) float32."""
    angles = rng.uniform(-config.max_rotation, config.max_rotation, n)
    scales = rng.uniform(config.min_scale, config.max_scale, n)
    shears = rng.uniform(-config.max_shear, config.max_shear, n)
    offsets = rng.uniform(-config.max_shift, config.max_shift, (n, 2))
    return affine_matrices(angles, scales, shears), offsets.astype(np.float32)


def affine_matrices(angles: ArrayLike, scales: ArrayLike, shears: ArrayLike) -> NDArray[np.float32]:
    """(n, 2, 2) float32 maps rotation @ shear * scale, acting on (row, col) about the centre.

    angles: degrees, counter-clockwise as displayed (rows grow downwards);
    shears: col += shear * row, a slant; scales: size factors. A content point
    p (relative to the field's centre) moves to ``matrix @ p + offset``.
    """
    angle = np.deg2rad(np.asarray(angles, dtype=np.float64))
    shear = np.asarray(shears, dtype=np.float64)
    scale = np.asarray(scales, dtype=np.float64)
    cos, sin = np.cos(angle), np.sin(angle)
    # row' = cos*row - sin*col, col' = sin*row + cos*col: counter-clockwise on screen.
    rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)  # (n, 2, 2)
    shearing = np.zeros_like(rotation)
    shearing[:, 0, 0] = shearing[:, 1, 1] = 1.0
    shearing[:, 1, 0] = shear
    matrices: NDArray[np.float32] = (rotation @ shearing * scale[:, None, None]).astype(np.float32)
    return matrices


def random_thickness(n: int, rng: np.random.Generator, prob: float) -> NDArray[np.float32]:
    """(n,) float32 stroke changes: 0 (unchanged) with probability 1 - prob, else in [-1, 1].

    Positive thickens, negative thins; the magnitude is uniform in [0, 1].
    """
    chosen = rng.random(n) < prob
    amounts = rng.uniform(-1.0, 1.0, n).astype(np.float32)
    return np.where(chosen, amounts, np.float32(0))


def elastic_field(n: int, rng: np.random.Generator, alpha: float, sigma: float) -> NDArray[np.float32]:
    """Smooth random displacements (n, 2, 28, 28) float32, RMS ``alpha`` pixels per axis.

    Random values on a coarse grid of control points (spacing sigma, reaching
    one sigma beyond the field) are spread by Gaussian weights of width sigma.
    The values are uniform with unit variance (a normal draw costs five times
    more, and the weighted sum is close to normal anyway); each row of the
    weight matrix has unit L2 norm, so every pixel's displacement has standard
    deviation exactly ``alpha``.
    """
    spread = _spread_matrix(float(sigma))  # (28, g)
    g = spread.shape[1]
    noise = rng.random((n * 2, g, g), dtype=np.float32)
    noise -= np.float32(0.5)
    noise *= np.float32(math.sqrt(12) * alpha)  # unit variance, then RMS alpha
    # One small product per sample: a single large GEMM would be split across
    # BLAS threads, which crawl when other processes share the cores.
    field = spread @ noise @ spread.T  # (n*2, 28, 28)
    return cast(NDArray[np.float32], field.reshape(n, 2, SIDE, SIDE))  # float32 @ float32: numpy's stubs say float64


@functools.lru_cache(maxsize=None)
def _spread_matrix(sigma: float) -> NDArray[np.float32]:
    """(28, g) Gaussian weights from g control points to the 28 pixel positions (shared: do not modify)."""
    g = math.ceil((SIDE - 1 + 2 * sigma) / sigma) + 1
    points = np.linspace(-sigma, SIDE - 1 + sigma, g)
    pixels = np.arange(SIDE)[:, None]
    w = np.exp(-((pixels - points) ** 2) / (2 * sigma**2))
    w /= np.sqrt((w**2).sum(axis=1, keepdims=True))
    return w.astype(np.float32)


# --------------------------------------------------------------------------- #
# Applying them
# --------------------------------------------------------------------------- #
_rows, _cols = np.meshgrid(np.arange(SIDE, dtype=np.float32), np.arange(SIDE, dtype=np.float32), indexing="ij")
#: Output pixel positions relative to the centre, (2, 784): the base sampling grid.
_BASE_GRID = np.stack([_rows.ravel(), _cols.ravel()]) - np.float32(_CENTRE)
#: Side of the zero-padded image: one zero pixel before the image and two after,
#: so a sample clipped to [-1, 28] and its +1 neighbour both land inside.
_PADDED = SIDE + 3


def warp(images: NDArray[np.float32], matrices: Floats, offsets: Floats,
         displacement: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
    """Apply forward affine maps (and an optional elastic field) with bilinear sampling.

    images: (n, 28, 28) float32; matrices (n, 2, 2), offsets (n, 2) as from
    random_affine; displacement (n, 2, 28, 28) in pixels, added to where each
    output pixel samples from. Content moved in from outside the field is 0.
    Returns (n, 28, 28) float32.
    """
    n = len(images)
    inverse = np.linalg.inv(matrices).astype(np.float32)  # (n, 2, 2)
    # Output pixel p samples the input at inverse @ (p - offset) + centre.
    src = inverse @ _BASE_GRID  # (n, 2, 784)
    # +1: coordinates in the padded image, whose pixel (1, 1) is the input's (0, 0).
    src += np.float32(_CENTRE + 1) - inverse @ offsets.astype(np.float32)[:, :, None]
    if displacement is not None:
        src += displacement.reshape(n, 2, SIDE * SIDE)
    return _bilinear(images, src).reshape(n, SIDE, SIDE)


def _bilinear(images: NDArray[np.float32], src: NDArray[np.float32]) -> NDArray[np.float32]:
    """Sample (n, 28, 28) at padded-image positions src (n, 2, m); zero outside. -> (n, m)."""
    n = len(images)
    padded = np.zeros((n, _PADDED, _PADDED), dtype=np.float32)
    padded[:, 1:SIDE + 1, 1:SIDE + 1] = images
    # Clipping into the zero border keeps every index valid and reads 0 beyond the edge.
    np.clip(src, 0.0, SIDE + 1, out=src)
    corner = np.floor(src)  # (n, 2, m) top-left neighbour
    frac = np.subtract(src, corner, out=src)  # weights towards the next row / column
    # Flat index of the top-left neighbour within its image (at most 29 * 31 + 29).
    position = corner[:, 0] * np.float32(_PADDED)
    position += corner[:, 1]
    # intp indices: np.take would convert any other type on every call.
    index = position.astype(np.intp)
    index += (np.arange(n, dtype=np.intp) * _PADDED**2)[:, None]
    flat = padded.ravel()
    # The other three neighbours through shifted views of the same buffer, so
    # the index array is reused as is. Every index is valid by construction;
    # mode="clip" only skips the bounds check.
    top = np.take(flat, index, mode="clip")
    right = np.take(flat[1:], index, mode="clip")
    bottom = np.take(flat[_PADDED:], index, mode="clip")
    bottom_right = np.take(flat[_PADDED + 1:], index, mode="clip")
    # Three in-place lerps: along columns on both rows, then between the rows.
    right -= top
    right *= frac[:, 1]
    top += right
    bottom_right -= bottom
    bottom_right *= frac[:, 1]
    bottom += bottom_right
    bottom -= top
    bottom *= frac[:, 0]
    top += bottom
    return top


def change_thickness(images: ArrayLike, amounts: ArrayLike) -> NDArray[np.float32]:
    """Thicker (amount > 0) or thinner (amount < 0) strokes; |amount| <= 1 is the strength.

    images (n, 28, 28) float32. A thickened image is blended towards its 3x3
    grey dilation, a thinned one towards its erosion by a plus-shaped element
    (a 3x3 square would erase MNIST's two-pixel strokes), then scaled back so
    its brightest pixel keeps its level, as preprocessing would. Returns a new array.
    """
    amounts = np.asarray(amounts, dtype=np.float32)
    out = np.array(images, dtype=np.float32)
    for sign, change in ((1, _dilate), (-1, _erode)):
        idx = np.flatnonzero(np.sign(amounts) == sign)
        if len(idx):
            x = out[idx]
            strength = np.abs(amounts[idx])[:, None, None]
            y = x + (change(x) - x) * strength
            if sign < 0:
                before, after = x.max(axis=(1, 2)), y.max(axis=(1, 2))
                y *= (before / np.maximum(after, np.float32(1e-6)))[:, None, None]
            out[idx] = y
    return out


def _padded(images: NDArray[np.float32]) -> NDArray[np.float32]:
    """(n, 28, 28) -> (n, 30, 30) with a zero border."""
    padded = np.zeros((len(images), SIDE + 2, SIDE + 2), dtype=np.float32)
    padded[:, 1:-1, 1:-1] = images
    return padded


def _dilate(images: NDArray[np.float32]) -> NDArray[np.float32]:
    """3x3 grey dilation (max over the square), computed separably."""
    p = _padded(images)
    rows = np.maximum(p[:, :, :-2], p[:, :, 1:-1])  # (n, 30, 28)
    np.maximum(rows, p[:, :, 2:], out=rows)
    out = np.maximum(rows[:, :-2], rows[:, 1:-1])  # (n, 28, 28)
    return np.maximum(out, rows[:, 2:], out=out)


def _erode(images: NDArray[np.float32]) -> NDArray[np.float32]:
    """Grey erosion by a plus (the pixel and its four edge neighbours)."""
    p = _padded(images)
    out = np.minimum(p[:, 1:-1, 1:-1], p[:, :-2, 1:-1])
    for view in (p[:, 2:, 1:-1], p[:, 1:-1, :-2], p[:, 1:-1, 2:]):
        np.minimum(out, view, out=out)
    return out
