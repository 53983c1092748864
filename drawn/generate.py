"""An evaluation set of digits drawn with a pen on a 280x280 canvas, the way the app's canvas draws.

MNIST pixels are never reused. Each source digit (take them from the MNIST
*test* split, so no model has trained on them) is thinned to a one-pixel
skeleton, the skeleton is traced into polylines, and those paths are drawn
again as pen strokes:

* the pen path is smoothed, wobbled by a smooth random offset, and sampled
  sparsely like mouse events, then joined by quadratic curves through the
  midpoints, as Fabric.js's freehand brush (the app's canvas) renders them;
* a uniform-width round pen (8-30 px) draws white on black, anti-aliased by
  drawing at twice the size and averaging down, like a browser canvas;
* the digit gets a random slant, rotation, aspect, size (60-260 px of ink
  height, and at least 3.5 pen widths) and position anywhere on the canvas,
  always fully inside.

    drawn = make_drawn_digits(2000, seed=0, source_images=ds.x_test, source_labels=ds.y_test)
    drawn.canvases  # (2000, 280, 280) uint8, ink 255 on 0
    drawn.labels    # (2000,) uint8, 200 of each digit

Everything is seeded: the same arguments give the same canvases, bit for bit
(with the same Pillow and NumPy). The digits picked depend on n, so the first
500 drawings of a 2,000-drawing set are not the 500-drawing set.

The stages live in their own modules: ``drawn.skeleton`` (source digit to strokes),
``drawn.hand`` (strokes to one person's mouse events) and ``drawn.render`` (events to the
canvas). This module picks the source digits and runs the stages; the names it has always
offered (``CANVAS_SIDE``, ``Hand``, ``skeletonize``, ...) are imported from here as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .hand import BRUSH_RANGE, HEIGHT_RANGE, _hand_events
from .hand import Hand as Hand  # importable from here, as before the split
from .render import CANVAS_SIDE, render_pen_strokes
from .skeleton import _MAX_SOURCE_WIDTH, _enlarge, skeleton_strokes, skeletonize, stroke_width, trace_paths

__all__ = [
    "DRAWN_VERSION",
    "CANVAS_SIDE",
    "BRUSH_RANGE",
    "HEIGHT_RANGE",
    "DrawnDigit",
    "DrawnDigits",
    "iter_drawn_digits",
    "iter_pen_strokes",
    "render_pen_strokes",
    "make_drawn_digits",
    "skeletonize",
    "stroke_width",
    "trace_paths",
]

#: Bump whenever the generator's output for a given seed changes.
DRAWN_VERSION = 1


class DrawnDigit(NamedTuple):
    """One generated drawing and how it was drawn."""

    canvas: np.ndarray  # (280, 280) uint8
    label: int
    brush: int  # pen width, canvas px
    height: int  # ink height, canvas px
    source: int  # index into the source images


class DrawnDigits(NamedTuple):
    """A generated set: canvases (n, 280, 280) uint8 and, per drawing, label, brush, height, source."""

    canvases: np.ndarray
    labels: np.ndarray  # (n,) uint8
    brush: np.ndarray  # (n,) int16
    height: np.ndarray  # (n,) int16
    source: np.ndarray  # (n,) int64


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #
def make_drawn_digits(n: int, seed: int, source_images: np.ndarray, source_labels: np.ndarray) -> DrawnDigits:
    """Draw n digits (as balanced over the ten labels as n allows); see the module docstring.

    source_images: (m, 28, 28) uint8 MNIST-style digits, source_labels: (m,).
    Memory: 78,400 bytes per canvas (157 MB for 2,000); use iter_drawn_digits
    to process them one at a time instead.
    """
    canvases = np.empty((n, CANVAS_SIDE, CANVAS_SIDE), dtype=np.uint8)
    labels = np.empty(n, dtype=np.uint8)
    brush, height = np.empty(n, dtype=np.int16), np.empty(n, dtype=np.int16)
    source = np.empty(n, dtype=np.int64)
    for i, d in enumerate(iter_drawn_digits(n, seed, source_images, source_labels)):
        canvases[i], labels[i], brush[i], height[i], source[i] = d
    return DrawnDigits(canvases, labels, brush, height, source)


def iter_drawn_digits(
    n: int, seed: int, source_images: np.ndarray, source_labels: np.ndarray, *, chunk: int = 250
) -> Iterator[DrawnDigit]:
    """Yield the same n drawings as make_drawn_digits, one at a time."""
    for events, label, brush, height, source in iter_pen_strokes(n, seed, source_images, source_labels, chunk=chunk):
        yield DrawnDigit(render_pen_strokes(events, brush), label, brush, height, source)


def iter_pen_strokes(
    n: int, seed: int, source_images: np.ndarray, source_labels: np.ndarray, *, chunk: int = 250
) -> Iterator[tuple[list[np.ndarray], int, int, int, int]]:
    """The same n drawings as pen strokes: (mouse events per stroke, label, brush, height, source).

    Each stroke is an (m, 2) array of (x, y) canvas pixels, where the mouse events of a person
    drawing it would fall: replay them on the real canvas to draw the same digit in a browser.
    """
    source_images, source_labels = _check_sources(n, seed, source_images, source_labels)
    rng = np.random.default_rng(seed)
    chosen = _balanced_choice(source_labels, stroke_width(source_images) <= _MAX_SOURCE_WIDTH, n, rng)
    for start in range(0, n, chunk):
        idx = chosen[start:start + chunk]
        skeletons = skeletonize(_enlarge(source_images[idx]))  # (k, 112, 112) bool
        for i, skeleton in zip(idx, skeletons):
            events, brush, height = _pen_events(trace_paths(skeleton), rng)
            yield events, int(source_labels[i]), brush, height, int(i)


def _check_sources(n: int, seed: int, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The arguments every generator here takes, checked: images and labels as arrays, or ValueError."""
    if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0):
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"source_images must be uint8 (m, 28, 28), got {images.dtype} {images.shape}")
    if labels.shape != (len(images),):
        raise ValueError(f"source_labels must be shaped ({len(images)},), got {labels.shape}")
    return images, labels


def _balanced_choice(labels: NDArray[np.integer[Any]], usable: NDArray[np.bool_], n: int,
                     rng: np.random.Generator) -> NDArray[np.intp]:
    """n source indices, n // k per label (the first n % k labels get one more), shuffled.

    Only ``usable`` sources are picked, unless a label has none. Without
    replacement while a label has enough images, so no digit repeats in a set
    of up to 8,890 drawings from MNIST's test split.
    """
    classes = np.unique(labels)
    picks = []
    for j, c in enumerate(classes):
        pool = np.flatnonzero((labels == c) & usable)
        if not len(pool):
            pool = np.flatnonzero(labels == c)
        want = n // len(classes) + (j < n % len(classes))
        picks.append(rng.choice(pool, want, replace=want > len(pool)))
    return rng.permutation(np.concatenate(picks))


def _pen_events(paths: list[NDArray[np.float64]],
                rng: np.random.Generator) -> tuple[list[NDArray[np.float64]], int, int]:
    """Skeleton paths as one random person's pen strokes -> (mouse events per stroke, brush, height).

    Each stroke is an (m, 2) array of (x, y) canvas pixels where the mouse events fall.
    """
    return _hand_events(skeleton_strokes(paths), rng)
