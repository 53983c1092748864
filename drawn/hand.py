"""A person's hand: strokes into the mouse events of someone drawing them on the canvas.

``_hand_events`` takes strokes in any unit (x right, y down) and gives them one random slant,
rotation and aspect (a ``Hand``), a smooth wobble, a pen width and an ink height, places them
anywhere on the 280x280 canvas (always fully inside), and samples them where a mouse's events
would fall. ``drawn.render`` then draws those events as the canvas does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .polylines import Stroke
from .render import CANVAS_SIDE

__all__ = ["BRUSH_RANGE", "HEIGHT_RANGE", "Hand"]

#: Pen widths in canvas pixels (the app's slider allows 6-40, default 18).
BRUSH_RANGE = (8, 30)
#: Ink height in canvas pixels, pen width included.
HEIGHT_RANGE = (60, 260)

#: Drawings are at least this many pen widths tall.
_MIN_HEIGHT_IN_BRUSHES = 3.5
#: Canvas pixels kept free at every edge.
_MARGIN = 2


class Hand(NamedTuple):
    """A hand's shape for one drawing: slant (x shift per unit of y), rotation (degrees), aspect (x scale)."""

    slant: float
    angle: float
    aspect: float


def _hand_events(
    strokes: list[np.ndarray], rng: np.random.Generator, *, brush: int | None = None,
    target_height: float | None = None, hand: Hand | None = None, wobble: float | None = None,
) -> tuple[list[np.ndarray], int, int]:
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


def _hand_shape(strokes: Sequence[Stroke], rng: np.random.Generator, hand: Hand | None = None) -> list[Stroke]:
    """Apply one slant, rotation and aspect to all strokes (x right, y down); random unless ``hand`` is given."""
    if hand is None:
        hand = Hand(rng.uniform(-0.3, 0.3), rng.uniform(-10, 10), math.exp(rng.uniform(-0.2, 0.2)))
    slant, angle, aspect = hand.slant, np.deg2rad(hand.angle), hand.aspect
    cos, sin = math.cos(angle), math.sin(angle)
    m = np.array([[cos, -sin], [sin, cos]]) @ np.array([[aspect, slant], [0.0, 1.0]])
    return [s @ m.T for s in strokes]


def _place(strokes: Sequence[Stroke], brush: float, target_height: float,
           rng: np.random.Generator) -> tuple[list[Stroke], float]:
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


def _wobble(strokes: Sequence[Stroke], rng: np.random.Generator, level: float | None = None) -> list[Stroke]:
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


def _mouse_events(points: Stroke, rng: np.random.Generator) -> Stroke:
    """Resample a placed path (canvas px) where mouse events would fall: every 3-10 px, unevenly."""
    arc = _arclength(points)
    step = rng.uniform(3, 10)
    gaps = step * rng.uniform(0.6, 1.4, int(arc[-1] / (0.6 * step)) + 2)
    at = np.concatenate([[0.0], np.cumsum(gaps)])
    at = np.append(at[at < arc[-1]], arc[-1])
    return np.stack([np.interp(at, arc, points[:, j]) for j in range(2)], axis=1)


def _arclength(points: Stroke) -> Stroke:
    """Cumulative length along a polyline (m, 2) -> (m,), starting at 0."""
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
