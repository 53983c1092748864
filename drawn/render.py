"""Mouse events into a canvas image, the way the app's canvas (Fabric.js's freehand brush) draws them.

The events of a stroke are joined by quadratic curves through their midpoints, then drawn with a
round pen, white on black, at twice the size and averaged down (anti-aliasing like a browser's).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from .polylines import Stroke

__all__ = ["CANVAS_SIDE", "render_pen_strokes"]

#: The canvas is this many pixels square, like the app's.
CANVAS_SIDE = 280
#: Drawing is done this many times larger, then averaged down (anti-aliasing).
_SUPERSAMPLE = 2


def render_pen_strokes(events: list[np.ndarray], brush: int) -> np.ndarray:
    """Draw pen strokes (mouse events per stroke, as iter_pen_strokes gives) -> (280, 280) uint8 canvas.

    The events are joined by curves the way the canvas's freehand brush joins them, then drawn
    with a round pen `brush` px wide.
    """
    return _render([_fabric_curve(s) for s in events], brush)


def _fabric_curve(points: Stroke, steps: int = 6) -> Stroke:
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


def _render(strokes: Sequence[Stroke], brush: int) -> NDArray[np.uint8]:
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
