"""Styles drawn from a template: the whole digit from strokes in a unit box, not from an MNIST digit.

The box has y from 0 (top) to 1 (bottom) and x from 0 to the digit's width; each function takes
a style's proportions ``p`` (drawn at random by its ``params``) and ignores the source strokes
(None for templates).
"""

from __future__ import annotations

from ..polylines import Stroke, _arc, _join, _poly

#: A style's proportions, by name (drawn by its ``params``).
Proportions = dict[str, float]


def _four_open(_: object, p: Proportions) -> list[Stroke]:
    w, yb = p["width"], p["bar_y"]
    arm = _poly([(p["arm_x"] * w, 0.0), (p["arm_x"] * w - p["lean"], yb), (w, yb)])
    stem = _poly([(p["stem_x"] * w, p["stem_top"]), (p["stem_x"] * w, 1.0)])
    return [arm, stem]


def _four_closed(_: object, p: Proportions) -> list[Stroke]:
    w, yb, xs = p["width"], p["bar_y"], p["stem_x"] * p["width"]
    triangle = _poly([(xs, p["apex"]), (0.0, yb), (w, yb)])
    stem = _poly([(xs + p["stem_dx"], 0.0), (xs, 1.0)])
    return [triangle, stem]


def _nine_straight(_: object, p: Proportions) -> list[Stroke]:
    rx, ry = p["width"] / 2, p["loop"]
    # Counter-clockwise from the upper right, once round and a little past the start, so it closes.
    loop = _arc(rx, ry, rx, ry, p["start"], p["start"] - 360 - p["close"])
    stem = _poly([loop[-1], (2 * rx + p["stem_dx"], 1.0)])
    return [_join(loop, stem)]


def _two_loop(_: object, p: Proportions) -> list[Stroke]:
    w, ry = p["width"], p["top"]
    top = _arc(w / 2, ry, w / 2, ry, p["start"], p["end"])
    r = p["loop"]
    cx, cy = r + 0.02, 1.0 - r
    loop = _arc(cx, cy, r, r, 45, 400)  # down-left into it, round clockwise, out to the right
    base = _poly([loop[-1], (w, 1.0 - p["base_tilt"])])
    return [_join(top, _poly([top[-1], loop[0]]), loop, base)]


def _three_flat_top(_: object, p: Proportions) -> list[Stroke]:
    w, ym, xm = p["width"], p["mid_y"], p["mid_x"] * p["width"]
    zed = _poly([(p["bar_x"] * w, 0.0), (w, 0.0), (xm, ym)])
    ry = (1 - ym) / 2
    bowl = _arc(xm, ym + ry, (w - xm) * p["bowl"], ry, -90, p["end"])
    return [_join(zed, bowl)]


def _five_detached(_: object, p: Proportions) -> list[Stroke]:
    w, ym = p["width"], p["mid_y"]
    ry = (1 - ym) / 2
    rx = w * p["bowl"] / 2
    bowl = _arc(w - rx, ym + ry, rx, ry, p["start"], p["end"])
    stem = _poly([(p["stem_x"] * w, p["stem_top"]), bowl[0]])
    bar = _poly([(p["stem_x"] * w + p["gap"], 0.0), (w, -p["bar_tilt"])])
    return [_join(stem, bowl), bar]


def _eight_two_loops(_: object, p: Proportions) -> list[Stroke]:
    w, rt = p["width"], p["top"]
    rb = (1 - 2 * rt) / 2
    over = p["overlap"]
    top = _arc(w / 2, rt, w / 2 * p["top_w"], rt, -90, -450 - over)
    bottom = _arc(w / 2 + p["dx"], 2 * rt + rb, w / 2, rb, -90, -450 - over)
    return [top, bottom]
