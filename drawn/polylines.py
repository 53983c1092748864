"""Strokes drawn from geometry: dense polylines and elliptic arcs, and a bounding box.

The handwriting styles' added marks and templates (``drawn.styles``) and the shapes that are no
digit (``drawn.negatives``) build their strokes from these. Points are dense because the hand's
wobble (``drawn.hand``) moves the points a stroke has: a stroke needs many to bend smoothly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: One stroke: its points (m, 2), (x, y) in drawing order.
Stroke = NDArray[np.floating[Any]]

_STEP = 0.01  # point spacing, in units of the digit's height


def _poly(points: ArrayLike, step: float = _STEP) -> Stroke:
    """Straight segments through ``points`` [(x, y), ...], sampled every ``step`` -> (m, 2)."""
    points = np.asarray(points, dtype=np.float64)
    out = [points[:1]]
    for a, b in zip(points[:-1], points[1:]):
        k = max(1, int(math.ceil(np.linalg.norm(b - a) / step)))
        out.append(a + (b - a) * (np.arange(1, k + 1) / k)[:, None])
    return np.concatenate(out)


def _arc(cx: float, cy: float, rx: float, ry: float, t0: float, t1: float, step: float = _STEP) -> Stroke:
    """Elliptic arc from angle t0 to t1 (degrees; y down, so increasing t turns clockwise on screen)."""
    length = abs(np.deg2rad(t1 - t0)) * max(rx, ry)
    t = np.deg2rad(np.linspace(t0, t1, max(3, int(length / step) + 1)))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _join(*parts: Stroke) -> Stroke:
    """One stroke through several pieces, in order."""
    return np.concatenate(parts)


def _bbox(strokes: Sequence[Stroke]) -> tuple[NDArray[np.floating[Any]], NDArray[np.floating[Any]],
                                              NDArray[np.floating[Any]]]:
    allp = np.concatenate(strokes)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    return lo, hi, np.maximum(hi - lo, 1e-6)
