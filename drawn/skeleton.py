"""Source digits into pen paths: how bold a digit is, its skeleton, and the skeleton traced into strokes.

A 28x28 digit is enlarged and thresholded into an ink mask, thinned to a one-pixel skeleton
(Zhang-Suen), and the skeleton is walked into polylines; ``skeleton_strokes`` smooths those into
(x, y) strokes in MNIST pixels, ready for ``drawn.hand``. Digits too bold to thin well are told
apart by ``stroke_width``.

    paths = trace_paths(skeletonize(masks)[0])   # [(m, 2) float (row, col), ...]
    strokes = skeleton_strokes(paths)            # [(m, 2) float (x, y) in MNIST px, ...]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image

#: A pixel of the skeleton: (row, col).
Pixel = tuple[int, int]

__all__ = ["skeleton_strokes", "skeletonize", "stroke_width", "trace_paths"]

#: Source digits with broader strokes (the boldest ~2% of MNIST's test set,
#: mostly 0, 6, 8 and 9 whose loops are filled in) are skipped: their skeleton
#: loses the loop and the redrawn digit would no longer match its label.
_MAX_SOURCE_WIDTH = 5.0
#: Skeletons are found on the source digit enlarged this many times, where
#: strokes are ~10 px wide and thinning leaves few spurs.
_UPSCALE = 4


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
def _enlarge(images: NDArray[np.uint8]) -> NDArray[np.bool_]:
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


def _neighbours(img: NDArray[np.uint8]) -> list[NDArray[np.uint8]]:
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

    def free_neighbours(p: Pixel) -> list[Pixel]:
        return [q for q in around[p] if q in unvisited]

    def drawn_neighbour(p: Pixel, nearby: set[Pixel]) -> Pixel | None:
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


def _straightest(path: Sequence[Pixel], options: Sequence[Pixel]) -> Pixel:
    """The option that continues the path's recent direction best (options are edge-first)."""
    if len(path) < 3:
        return options[0]
    back = path[-3]
    heading = (path[-1][0] - back[0], path[-1][1] - back[1])
    return max(options, key=lambda q: (q[0] - path[-1][0]) * heading[0] + (q[1] - path[-1][1]) * heading[1])


# --------------------------------------------------------------------------- #
# Paths into smoothed strokes
# --------------------------------------------------------------------------- #
def skeleton_strokes(paths: list[np.ndarray]) -> list[np.ndarray]:
    """trace_paths output (row, col on the enlarged skeleton) -> smoothed (x, y) strokes in MNIST pixels."""
    return [_smooth(p[:, ::-1] / _UPSCALE, 2.0) for p in paths]


def _smooth(points: NDArray[np.float64], width: float) -> NDArray[np.float64]:
    """Moving average along the path over about ``width`` skeleton pixels (removes staircases)."""
    k = max(1, int(round(width * _UPSCALE)))
    if len(points) <= 2 * k:
        return points
    padded = np.concatenate([np.repeat(points[:1], k, 0), points, np.repeat(points[-1:], k, 0)])
    kernel = np.ones(2 * k + 1) / (2 * k + 1)
    return np.stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(2)], axis=1)
