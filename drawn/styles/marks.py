"""Styles made by adding strokes to an MNIST digit's skeleton: the slash, dot, flag, base bar and crossbar.

Each function takes the source digit's skeleton strokes (``base``, (x, y) in MNIST pixels, as
``drawn.skeleton.skeleton_strokes`` gives them) and a style's proportions ``p``, and returns the
strokes in drawing order, the added ones included. ``_usable_stick`` says which source digits a
mark suits (a flag goes on a 1 that is one straight stick).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ..polylines import _STEP, Stroke, _bbox, _poly
from ..skeleton import _MAX_SOURCE_WIDTH, stroke_width


def _slash(base: list[Stroke], p: dict[str, float]) -> list[Stroke]:
    """A slash through the 0 from beyond its upper right to beyond its lower left."""
    lo, hi, size = _bbox(base)
    centre = (lo + hi) / 2 + np.array([p["dx"], p["dy"]]) * size
    half = size / 2 * np.array([p["steep"], 1.0])
    start = centre + half * np.array([1, -1]) * (1 + p["over"])
    end = centre + half * np.array([-1, 1]) * (1 + p["under"])
    return base + [_poly([start, end], _STEP * size[1])]


def _dot(base: list[Stroke], p: dict[str, float]) -> list[Stroke]:
    """A dot or a short tick in the 0's centre."""
    lo, hi, size = _bbox(base)
    centre = (lo + hi) / 2 + np.array([p["dx"], p["dy"]]) * size
    a = np.deg2rad(p["angle"])
    half = p["length"] * size[1] / 2 * np.array([math.cos(a), math.sin(a)])
    return base + [_poly([centre - half, centre + half], _STEP * size[1])]


def _flag(base: list[Stroke], p: dict[str, float]) -> list[Stroke]:
    """A flag from the top of the 1 down to the left, drawn first."""
    lo, hi, size = _bbox(base)
    allp = np.concatenate(base)
    top, foot = allp[allp[:, 1].argmin()], allp[allp[:, 1].argmax()]
    # At least 30 degrees off a slanted stem, so the flag never lies along it.
    stem = math.degrees(math.atan2(foot[1] - top[1], top[0] - foot[0]))  # below horizontal, to the left
    a = np.deg2rad(max(5.0, min(p["angle"], stem - 30)))
    end = top + p["length"] * size[1] * np.array([-math.cos(a), math.sin(a)])
    return [_poly([end, top], _STEP * size[1])] + base


def _base_bar(base: list[Stroke], p: dict[str, float]) -> list[Stroke]:
    """A bar along the foot of the 1, mostly centred on it."""
    lo, hi, size = _bbox(base)
    allp = np.concatenate(base)
    foot = allp[allp[:, 1].argmax()]
    length = p["bar"] * size[1]
    tilt = math.tan(np.deg2rad(p["tilt"])) * length / 2
    left = foot + np.array([-length * p["left"], tilt])
    right = foot + np.array([length * (1 - p["left"]), -tilt])
    return base + [_poly([left, right], _STEP * size[1])]


def _crossbar(base: list[Stroke], p: dict[str, float]) -> list[Stroke]:
    """A short bar across the 7's stem at about mid height, drawn left to right."""
    lo, hi, size = _bbox(base)
    allp = np.concatenate(base)
    y = lo[1] + p["at"] * size[1]
    near = allp[np.abs(allp[:, 1] - y) < 0.03 * size[1]]
    x = float(np.median(near[:, 0])) if len(near) else (lo[0] + hi[0]) / 2
    length = p["length"] * max(size[0], 0.5 * size[1])
    tilt = math.tan(np.deg2rad(p["tilt"])) * length / 2
    left = np.array([x - length * p["left"], y + tilt])
    right = np.array([x + length * (1 - p["left"]), y - tilt])
    return base + [_poly([left, right], _STEP * size[1])]


def _straight(images: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Digits whose ink is one straight stick (a 1 with no flag or foot already): thin along its axis."""
    ys, xs = np.mgrid[:28, :28]
    w = images.astype(np.float64)
    total = w.sum(axis=(1, 2)) + 1e-9
    mx, my = (w * xs).sum(axis=(1, 2)) / total, (w * ys).sum(axis=(1, 2)) / total
    dx, dy = xs - mx[:, None, None], ys - my[:, None, None]
    cxx, cyy, cxy = ((w * dx * dx).sum((1, 2)), (w * dy * dy).sum((1, 2)), (w * dx * dy).sum((1, 2)))
    cxx, cyy, cxy = cxx / total, cyy / total, cxy / total
    spread = np.sqrt(((cxx - cyy) / 2) ** 2 + cxy**2)
    major, minor = (cxx + cyy) / 2 + spread, (cxx + cyy) / 2 - spread
    return np.sqrt(np.maximum(minor, 0) / np.maximum(major, 1e-9)) < 0.2


def _usable_stick(images: NDArray[np.uint8]) -> NDArray[np.bool_]:
    return (stroke_width(images) <= _MAX_SOURCE_WIDTH) & _straight(images)
