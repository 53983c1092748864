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
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

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
CANVAS_SIDE = 280
#: Pen widths in canvas pixels (the app's slider allows 6-40, default 18).
BRUSH_RANGE = (8, 30)
#: Ink height in canvas pixels, pen width included.
HEIGHT_RANGE = (60, 260)

#: Drawings are at least this many pen widths tall.
_MIN_HEIGHT_IN_BRUSHES = 3.5
#: Source digits with broader strokes (the boldest ~2% of MNIST's test set,
#: mostly 0, 6, 8 and 9 whose loops are filled in) are skipped: their skeleton
#: loses the loop and the redrawn digit would no longer match its label.
_MAX_SOURCE_WIDTH = 5.0
#: Skeletons are found on the source digit enlarged this many times, where
#: strokes are ~10 px wide and thinning leaves few spurs.
_UPSCALE = 4
#: Canvas pixels kept free at every edge.
_MARGIN = 2
#: Drawing is done this many times larger, then averaged down (anti-aliasing).
_SUPERSAMPLE = 2


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


def render_pen_strokes(events: list[np.ndarray], brush: int) -> np.ndarray:
    """Draw pen strokes (mouse events per stroke, as iter_pen_strokes gives) -> (280, 280) uint8 canvas.

    The events are joined by curves the way the canvas's freehand brush joins them, then drawn
    with a round pen `brush` px wide.
    """
    return _render([_fabric_curve(s) for s in events], brush)


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


def _check_sources(n, seed, images, labels):
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


def _balanced_choice(labels, usable, n, rng):
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


def stroke_width(images: np.ndarray) -> np.ndarray:
    """Estimated stroke width (n,) in pixels of (n, 28, 28) uint8 digits: 2 * area / boundary.

    A band w pixels wide has about 2 boundary pixels per unit of length; fully
    thin strokes give 2 (every pixel is on the boundary).
    """
    ink = np.asarray(images) >= 128
    p = np.pad(ink, ((0, 0), (1, 1), (1, 1)))
    interior = ink & p[:, :-2, 1:-1] & p[:, 2:, 1:-1] & p[:, 1:-1, :-2] & p[:, 1:-1, 2:]
    area = ink.sum(axis=(1, 2))
    boundary = area - interior.sum(axis=(1, 2))
    return 2 * area / np.maximum(boundary, 1)


# --------------------------------------------------------------------------- #
# Skeleton: enlarge, threshold, thin (Zhang-Suen), trace into paths
# --------------------------------------------------------------------------- #
def _enlarge(images):
    """(k, 28, 28) uint8 -> (k, 112, 112) bool ink masks, smooth-edged (bilinear, then threshold)."""
    size = 28 * _UPSCALE
    out = np.empty((len(images), size, size), dtype=bool)
    for i, img in enumerate(images):
        big = Image.fromarray(img).resize((size, size), Image.Resampling.BILINEAR)
        out[i] = np.asarray(big) >= 100
    return out


def skeletonize(masks: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a batch of bool masks (k, h, w) -> one-pixel-wide skeletons.

    Each pass removes, all at once, border pixels whose removal keeps the shape
    connected (one 0->1 transition around them) and that are not line ends
    (2..6 neighbours); two sub-passes alternate between south-east and
    north-west borders so the skeleton stays centred. Vectorised over the batch;
    only the rows and columns holding ink are worked on, and a mask leaves the
    batch once a whole pass changes nothing in it (no later pass would).
    """
    masks = np.asarray(masks, dtype=bool)
    out = np.zeros(masks.shape, dtype=bool)
    rows, cols = np.flatnonzero(masks.any(axis=(0, 2))), np.flatnonzero(masks.any(axis=(0, 1)))
    if not len(rows):
        return out
    box = (slice(None), slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    img = np.pad(masks[box], ((0, 0), (1, 1), (1, 1))).astype(np.uint8)
    active = np.arange(len(img))  # which masks img still holds
    done = np.empty(img.shape, dtype=np.uint8)
    while len(active):
        core = img[:, 1:-1, 1:-1]  # a view: writes go to img
        changed = np.zeros(len(img), dtype=bool)
        for step in (0, 1):
            p = _neighbours(img)  # P2..P9 clockwise from north, each (k, h, w) of 0/1
            count = np.zeros_like(core)
            transitions = np.zeros_like(core)  # 0 -> 1 steps going once around
            for a, b in zip(p, p[1:] + p[:1]):
                count += a
                transitions += b > a
            p2, p3, p4, p5, p6, p7, p8, p9 = p
            if step == 0:
                keep_rule = (p2 & p4 & p6) | (p4 & p6 & p8)
            else:
                keep_rule = (p2 & p4 & p8) | (p2 & p6 & p8)
            delete = (core == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & (keep_rule == 0)
            changed |= delete.any(axis=(1, 2))
            core[delete] = 0
        done[active[~changed]] = img[~changed]
        img, active = img[changed], active[changed]
    out[box] = done[:, 1:-1, 1:-1].astype(bool)
    return out


def _neighbours(img):
    """The 8 neighbour planes P2..P9 (N, NE, E, SE, S, SW, W, NW) of a padded (k, h+2, w+2) array."""
    h, w = img.shape[1] - 2, img.shape[2] - 2
    offsets = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]
    return [img[:, 1 + dr:1 + dr + h, 1 + dc:1 + dc + w] for dr, dc in offsets]


_STEPS = [(-1, 0), (0, 1), (1, 0), (0, -1), (-1, 1), (1, 1), (1, -1), (-1, -1)]  # edges first


def trace_paths(skeleton: np.ndarray, min_length: int = 10) -> list[np.ndarray]:
    """Order a one-pixel skeleton (h, w) bool into polylines, each (m, 2) float (row, col).

    Walks from line ends first (then from anywhere, for loops like 0 and 8),
    always to an unvisited neighbour, edge neighbours before diagonal ones and
    straight on before turning. A path that starts or ends next to pixels
    already drawn is joined to them, so branches and loops close. Paths
    shorter than ``min_length`` pixels (thinning spurs, specks) are dropped.
    """
    pixels = set(zip(*np.nonzero(skeleton)))
    unvisited = set(pixels)
    around = {p: [(p[0] + dr, p[1] + dc) for dr, dc in _STEPS if (p[0] + dr, p[1] + dc) in pixels] for p in pixels}

    def free_neighbours(p):
        return [q for q in around[p] if q in unvisited]

    def drawn_neighbour(p, nearby):
        """A drawn pixel next to p other than the path's own last few (a branch or loop to join)."""
        return next((q for q in around[p] if q not in unvisited and q not in nearby), None)

    paths = []
    while unvisited:
        # A line end if there is one (also the loose end of a half-walked
        # branch); the same tie-break every time keeps tracing deterministic.
        start = min(unvisited, key=lambda p: (len(free_neighbours(p)) != 1, p))
        path = [start]
        unvisited.discard(start)
        while True:
            options = free_neighbours(path[-1])
            if not options:
                break
            path.append(_straightest(path, options))
            unvisited.discard(path[-1])
        head = drawn_neighbour(path[0], set(path[:4]))
        tail = drawn_neighbour(path[-1], set(path[-4:]))
        path = ([head] if head else []) + path + ([tail] if tail else [])
        paths.append(np.array(path, dtype=np.float64))
    kept = [p for p in paths if len(p) >= min_length]
    # A digit that is nothing but specks still gets drawn: keep its longest piece.
    return kept or sorted(paths, key=len)[-1:]


def _straightest(path, options):
    """The option that continues the path's recent direction best (options are edge-first)."""
    if len(path) < 3:
        return options[0]
    back = path[-3]
    heading = (path[-1][0] - back[0], path[-1][1] - back[1])
    return max(options, key=lambda q: (q[0] - path[-1][0]) * heading[0] + (q[1] - path[-1][1]) * heading[1])


# --------------------------------------------------------------------------- #
# Pen strokes: a random hand, then Fabric.js-style rendering
# --------------------------------------------------------------------------- #
def _pen_events(paths, rng):
    """Skeleton paths as one random person's pen strokes -> (mouse events per stroke, brush, height).

    Each stroke is an (m, 2) array of (x, y) canvas pixels where the mouse events fall.
    """
    return _hand_events(skeleton_strokes(paths), rng)


def skeleton_strokes(paths: list[np.ndarray]) -> list[np.ndarray]:
    """trace_paths output (row, col on the enlarged skeleton) -> smoothed (x, y) strokes in MNIST pixels."""
    return [_smooth(p[:, ::-1] / _UPSCALE, 2.0) for p in paths]


class Hand(NamedTuple):
    """A hand's shape for one drawing: slant (x shift per unit of y), rotation (degrees), aspect (x scale)."""

    slant: float
    angle: float
    aspect: float


def _hand_events(strokes, rng, *, brush=None, target_height=None, hand=None, wobble=None):
    """(x, y) strokes in any unit -> (mouse events per stroke, brush, height), drawn by a random hand.

    ``brush``, ``target_height`` (canvas px), ``hand`` (a Hand) and ``wobble`` (offset as a
    fraction of the height) are drawn from ``rng`` unless given, so a caller can fix a
    writer's habits; with none given the random draws are those of iter_pen_strokes.
    """
    if brush is None:
        brush = int(rng.integers(BRUSH_RANGE[0], BRUSH_RANGE[1] + 1))
    if target_height is None:
        # Nobody leaves a digit under ~3.5 pen widths tall: it is a blob, even to them.
        target_height = rng.uniform(max(HEIGHT_RANGE[0], _MIN_HEIGHT_IN_BRUSHES * brush), HEIGHT_RANGE[1])
    strokes = _wobble(_hand_shape(strokes, rng, hand), rng, wobble)
    strokes, height = _place(strokes, brush, target_height, rng)
    return [_mouse_events(s, rng) for s in strokes], brush, int(round(height))


def _smooth(points, width):
    """Moving average along the path over about ``width`` skeleton pixels (removes staircases)."""
    k = max(1, int(round(width * _UPSCALE)))
    if len(points) <= 2 * k:
        return points
    padded = np.concatenate([np.repeat(points[:1], k, 0), points, np.repeat(points[-1:], k, 0)])
    kernel = np.ones(2 * k + 1) / (2 * k + 1)
    return np.stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(2)], axis=1)


def _hand_shape(strokes, rng, hand=None):
    """Apply one slant, rotation and aspect to all strokes (x right, y down); random unless ``hand`` is given."""
    if hand is None:
        hand = Hand(rng.uniform(-0.3, 0.3), rng.uniform(-10, 10), math.exp(rng.uniform(-0.2, 0.2)))
    slant, angle, aspect = hand.slant, np.deg2rad(hand.angle), hand.aspect
    cos, sin = math.cos(angle), math.sin(angle)
    m = np.array([[cos, -sin], [sin, cos]]) @ np.array([[aspect, slant], [0.0, 1.0]])
    return [s @ m.T for s in strokes]


def _place(strokes, brush, target_height, rng):
    """Scale and move strokes so the ink is ``target_height`` tall (or as tall as fits) and inside.

    Returns the placed strokes (canvas px) and the ink height actually used.
    """
    allp = np.concatenate(strokes)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)  # (width, height) of the pen path
    room = CANVAS_SIDE - 2 * _MARGIN - brush  # the pen's centre must stay this far inside
    scale = min((target_height - brush) / span[1], room / span[0], room / span[1])
    size = span * scale
    free = np.maximum(room - size, 0.0)  # rounding can leave -1e-13
    corner = np.array([rng.uniform(0, free[0]), rng.uniform(0, free[1])])
    corner += _MARGIN + brush / 2
    placed = [(s - lo) * scale + corner for s in strokes]
    return placed, size[1] + brush


def _wobble(strokes, rng, level=None):
    """Add a smooth random offset along each stroke: a hand is never exactly on the path.

    Offsets of 0.5-2.5% of the digit's height (one ``level`` per drawing, random
    unless given) are drawn at knots 15-35% of that height apart along each
    stroke and interpolated. Done before placing, so the placed ink is still
    guaranteed to fit.
    """
    allp = np.concatenate(strokes)
    height = float(np.ptp(allp[:, 1])) or 1.0
    amplitude = (rng.uniform(0.005, 0.025) if level is None else level) * height
    spacing = rng.uniform(0.15, 0.35) * height
    out = []
    for points in strokes:
        arc = _arclength(points)
        knots = np.linspace(0.0, arc[-1], max(2, int(arc[-1] / spacing) + 2))
        offsets = rng.normal(0.0, amplitude, (len(knots), 2))
        out.append(points + np.stack([np.interp(arc, knots, offsets[:, j]) for j in range(2)], axis=1))
    return out


def _mouse_events(points, rng):
    """Resample a placed path (canvas px) where mouse events would fall: every 3-10 px, unevenly."""
    arc = _arclength(points)
    step = rng.uniform(3, 10)
    gaps = step * rng.uniform(0.6, 1.4, int(arc[-1] / (0.6 * step)) + 2)
    at = np.concatenate([[0.0], np.cumsum(gaps)])
    at = np.append(at[at < arc[-1]], arc[-1])
    return np.stack([np.interp(at, arc, points[:, j]) for j in range(2)], axis=1)


def _arclength(points):
    """Cumulative length along a polyline (m, 2) -> (m,), starting at 0."""
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])


def _fabric_curve(points, steps=6):
    """Densify like Fabric.js's PencilBrush: quadratic curves through the midpoints.

    The pen goes from midpoint to midpoint of consecutive events, with each
    event as the control point, and straight to the last event at the end.
    """
    if len(points) < 3:
        return points
    mids = (points[:-1] + points[1:]) / 2
    t = np.linspace(0, 1, steps, endpoint=False)[None, :, None]  # (1, steps, 1)
    start, ctrl, end = mids[:-1, None], points[1:-1, None], mids[1:, None]  # (k, 1, 2)
    curves = (1 - t) ** 2 * start + 2 * (1 - t) * t * ctrl + t**2 * end  # (k, steps, 2)
    return np.concatenate([points[:1], curves.reshape(-1, 2), mids[-1:], points[-1:]])


def _render(strokes, brush):
    """Draw strokes with a round pen, white on black; anti-aliased by supersampling."""
    s = _SUPERSAMPLE
    img = Image.new("L", (CANVAS_SIDE * s, CANVAS_SIDE * s), 0)
    draw = ImageDraw.Draw(img)
    width = brush * s
    r = width / 2
    for stroke in strokes:
        pts = [tuple(p) for p in stroke * s]
        # Segments plus a disc at every point: round caps and round joins,
        # like a canvas with lineCap = lineJoin = "round".
        draw.line(pts, fill=255, width=width)
        for x, y in pts:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(img.reduce(s))
