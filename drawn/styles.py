"""Handwriting styles MNIST lacks, simulated writers, and the held-out "real pen digits" set.

A style is one way people write one digit: a slashed or dotted zero, a 1 with a flag (and a
base bar), a 7 with a crossbar, a closed 4, a 9 with a straight stem, a looped 2... Each is made
in one of two ways:

* **added strokes**: an MNIST digit's skeleton (as ``drawn.generate`` traces it) plus the
  strokes a person adds (the slash through a 0, the flag on a 1, the bar across a 7);
* **a template**: the digit drawn from strokes in a unit box (y down, 0 at the top, 1 at the
  bottom; x from 0 to the digit's width) whose proportions are drawn at random.

Either way the strokes go through ``drawn.generate``'s hand (slant, rotation, aspect, wobble),
placement (any size and place on the 280x280 canvas, a round brush 8-30 px) and rendering.

    for d in iter_styled_digits(100, 0, ds.x_train, ds.y_train):
        d.canvas, d.label, d.style                      # (280, 280) uint8, 0-9, "zero_slashed"
    images, labels, styles = styled_images(20_000, 0, ds.x_train, ds.y_train)  # to train on
    score_styles(model, pen_digit_inputs(5000, seed=0))  # the held-out pen-digit score

A **writer** is one person's hand: one style per digit, a slant, rotation, aspect, pen width,
size and shakiness, all kept from drawing to drawing with a little variation, and a few source
digits per label redrawn each time (``make_writer``, ``iter_writer_digits``, ``writer_images``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from mlp.preprocess import FIELD_SIZE, PREPROCESS_VERSION, preprocess

from .generate import DRAWN_VERSION, _check_sources
from .hand import BRUSH_RANGE, HEIGHT_RANGE, Hand, _hand_events
from .render import render_pen_strokes
from .skeleton import _MAX_SOURCE_WIDTH, _enlarge, skeleton_strokes, skeletonize, stroke_width, trace_paths

__all__ = [
    "PEN_MIX",
    "STYLES",
    "STYLES_VERSION",
    "Style",
    "StyledDigit",
    "StyledInputs",
    "Writer",
    "iter_styled_digits",
    "iter_writer_digits",
    "make_writer",
    "pen_digit_inputs",
    "score_styles",
    "styled_images",
    "styles_of",
    "to_uint8",
    "writer_images",
]

#: Bump whenever the output of this module for a given seed changes.
STYLES_VERSION = 1


class Style(NamedTuple):
    """One way to write one digit (``digit`` None: any digit, for ``plain``).

    params(rng) draws the style's proportions; draw(base, params) gives the pen strokes, each an
    (m, 2) array of (x, y), from the source digit's skeleton strokes (None for a template).
    """

    name: str
    digit: int | None
    description: str
    template: bool
    params: Callable[[np.random.Generator], dict]
    draw: Callable[[list[np.ndarray] | None, dict], list[np.ndarray]]
    #: Drawn at least this many pen widths tall (a dot inside a 0 needs room to stay a dot).
    min_height_in_brushes: float = 3.5
    #: Which source digits it can use (bool mask over (m, 28, 28) uint8), added-stroke styles only.
    usable: Callable[[np.ndarray], np.ndarray] | None = None


class StyledDigit(NamedTuple):
    """One drawing: canvas (280, 280) uint8, label, style, brush and ink height (px), source index
    (-1 for a template) and writer id (-1 when not drawn by a Writer)."""

    canvas: np.ndarray
    label: int
    style: str
    brush: int
    height: int
    source: int
    writer: int


# --------------------------------------------------------------------------- #
# Geometry: dense polylines (wobble moves the points a stroke has, so a stroke needs many)
# --------------------------------------------------------------------------- #
_STEP = 0.01  # point spacing, in units of the digit's height


def _poly(points, step=_STEP):
    """Straight segments through ``points`` [(x, y), ...], sampled every ``step`` -> (m, 2)."""
    points = np.asarray(points, dtype=np.float64)
    out = [points[:1]]
    for a, b in zip(points[:-1], points[1:]):
        k = max(1, int(math.ceil(np.linalg.norm(b - a) / step)))
        out.append(a + (b - a) * (np.arange(1, k + 1) / k)[:, None])
    return np.concatenate(out)


def _arc(cx, cy, rx, ry, t0, t1, step=_STEP):
    """Elliptic arc from angle t0 to t1 (degrees; y down, so increasing t turns clockwise on screen)."""
    length = abs(np.deg2rad(t1 - t0)) * max(rx, ry)
    t = np.deg2rad(np.linspace(t0, t1, max(3, int(length / step) + 1)))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _join(*parts):
    """One stroke through several pieces, in order."""
    return np.concatenate(parts)


def _bbox(strokes):
    allp = np.concatenate(strokes)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    return lo, hi, np.maximum(hi - lo, 1e-6)


# --------------------------------------------------------------------------- #
# Added strokes (on an MNIST skeleton, MNIST pixel units)
# --------------------------------------------------------------------------- #
def _slash(base, p):
    """A slash through the 0 from beyond its upper right to beyond its lower left."""
    lo, hi, size = _bbox(base)
    centre = (lo + hi) / 2 + np.array([p["dx"], p["dy"]]) * size
    half = size / 2 * np.array([p["steep"], 1.0])
    start = centre + half * np.array([1, -1]) * (1 + p["over"])
    end = centre + half * np.array([-1, 1]) * (1 + p["under"])
    return base + [_poly([start, end], _STEP * size[1])]


def _dot(base, p):
    """A dot or a short tick in the 0's centre."""
    lo, hi, size = _bbox(base)
    centre = (lo + hi) / 2 + np.array([p["dx"], p["dy"]]) * size
    a = np.deg2rad(p["angle"])
    half = p["length"] * size[1] / 2 * np.array([math.cos(a), math.sin(a)])
    return base + [_poly([centre - half, centre + half], _STEP * size[1])]


def _flag(base, p):
    """A flag from the top of the 1 down to the left, drawn first."""
    lo, hi, size = _bbox(base)
    allp = np.concatenate(base)
    top, foot = allp[allp[:, 1].argmin()], allp[allp[:, 1].argmax()]
    # At least 30 degrees off a slanted stem, so the flag never lies along it.
    stem = math.degrees(math.atan2(foot[1] - top[1], top[0] - foot[0]))  # below horizontal, to the left
    a = np.deg2rad(max(5.0, min(p["angle"], stem - 30)))
    end = top + p["length"] * size[1] * np.array([-math.cos(a), math.sin(a)])
    return [_poly([end, top], _STEP * size[1])] + base


def _base_bar(base, p):
    """A bar along the foot of the 1, mostly centred on it."""
    lo, hi, size = _bbox(base)
    allp = np.concatenate(base)
    foot = allp[allp[:, 1].argmax()]
    length = p["bar"] * size[1]
    tilt = math.tan(np.deg2rad(p["tilt"])) * length / 2
    left = foot + np.array([-length * p["left"], tilt])
    right = foot + np.array([length * (1 - p["left"]), -tilt])
    return base + [_poly([left, right], _STEP * size[1])]


def _crossbar(base, p):
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


def _straight(images):
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


# --------------------------------------------------------------------------- #
# Templates (unit box: y 0..1 down, x 0..W)
# --------------------------------------------------------------------------- #
def _four_open(_, p):
    w, yb = p["width"], p["bar_y"]
    arm = _poly([(p["arm_x"] * w, 0.0), (p["arm_x"] * w - p["lean"], yb), (w, yb)])
    stem = _poly([(p["stem_x"] * w, p["stem_top"]), (p["stem_x"] * w, 1.0)])
    return [arm, stem]


def _four_closed(_, p):
    w, yb, xs = p["width"], p["bar_y"], p["stem_x"] * p["width"]
    triangle = _poly([(xs, p["apex"]), (0.0, yb), (w, yb)])
    stem = _poly([(xs + p["stem_dx"], 0.0), (xs, 1.0)])
    return [triangle, stem]


def _nine_straight(_, p):
    rx, ry = p["width"] / 2, p["loop"]
    # Counter-clockwise from the upper right, once round and a little past the start, so it closes.
    loop = _arc(rx, ry, rx, ry, p["start"], p["start"] - 360 - p["close"])
    stem = _poly([loop[-1], (2 * rx + p["stem_dx"], 1.0)])
    return [_join(loop, stem)]


def _two_loop(_, p):
    w, ry = p["width"], p["top"]
    top = _arc(w / 2, ry, w / 2, ry, p["start"], p["end"])
    r = p["loop"]
    cx, cy = r + 0.02, 1.0 - r
    loop = _arc(cx, cy, r, r, 45, 400)  # down-left into it, round clockwise, out to the right
    base = _poly([loop[-1], (w, 1.0 - p["base_tilt"])])
    return [_join(top, _poly([top[-1], loop[0]]), loop, base)]


def _three_flat_top(_, p):
    w, ym, xm = p["width"], p["mid_y"], p["mid_x"] * p["width"]
    zed = _poly([(p["bar_x"] * w, 0.0), (w, 0.0), (xm, ym)])
    ry = (1 - ym) / 2
    bowl = _arc(xm, ym + ry, (w - xm) * p["bowl"], ry, -90, p["end"])
    return [_join(zed, bowl)]


def _five_detached(_, p):
    w, ym = p["width"], p["mid_y"]
    ry = (1 - ym) / 2
    rx = w * p["bowl"] / 2
    bowl = _arc(w - rx, ym + ry, rx, ry, p["start"], p["end"])
    stem = _poly([(p["stem_x"] * w, p["stem_top"]), bowl[0]])
    bar = _poly([(p["stem_x"] * w + p["gap"], 0.0), (w, -p["bar_tilt"])])
    return [_join(stem, bowl), bar]


def _eight_two_loops(_, p):
    w, rt = p["width"], p["top"]
    rb = (1 - 2 * rt) / 2
    over = p["overlap"]
    top = _arc(w / 2, rt, w / 2 * p["top_w"], rt, -90, -450 - over)
    bottom = _arc(w / 2 + p["dx"], 2 * rt + rb, w / 2, rb, -90, -450 - over)
    return [top, bottom]


def _params(**ranges):
    """A params(rng) drawing each named proportion uniformly from its (low, high)."""
    return lambda rng: {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in ranges.items()}


def _plain(base, _):
    return base


def _usable_stick(images):
    return (stroke_width(images) <= _MAX_SOURCE_WIDTH) & _straight(images)


_S = [
    Style("plain", None, "the MNIST digit redrawn unchanged", False, _params(), _plain),
    Style("zero_slashed", 0, "0 with a slash from beyond its upper right to beyond its lower left", False,
          _params(dx=(-0.04, 0.04), dy=(-0.04, 0.04), steep=(0.55, 1.0), over=(0.0, 0.4), under=(0.0, 0.4)),
          _slash, 4.5),
    Style("zero_dotted", 0, "0 with a dot or a short tick in its centre", False,
          _params(dx=(-0.05, 0.05), dy=(-0.05, 0.05), angle=(-90, 90), length=(0.01, 0.12)), _dot, 6.0),
    Style("one_flag", 1, "1 with a flag from its top down to the left, 25-50% of its height", False,
          _params(angle=(20, 55), length=(0.25, 0.5)), _flag, 3.5, _usable_stick),
    Style("one_serif", 1, "1 with a flag and a bar along its foot", False,
          _params(angle=(20, 55), length=(0.25, 0.5), bar=(0.35, 0.6), left=(0.35, 0.6), tilt=(-5, 5)),
          lambda base, p: _base_bar(_flag(base, p), p), 3.5, _usable_stick),
    Style("two_loop", 2, "2 with a small loop where the diagonal meets the base", True,
          _params(width=(0.55, 0.8), top=(0.2, 0.3), start=(150, 200), end=(370, 400), loop=(0.1, 0.16),
                  base_tilt=(-0.03, 0.05)), _two_loop, 5.0),
    Style("three_flat_top", 3, "3 with a flat top bar and a diagonal into its lower bowl (a Z over a bowl)", True,
          _params(width=(0.5, 0.75), mid_y=(0.35, 0.48), mid_x=(0.15, 0.4), bar_x=(0.0, 0.1), bowl=(0.9, 1.15),
                  end=(120, 160)), _three_flat_top),
    Style("four_open", 4, "4 open at the top: an L, then a separate stem crossing the bar", True,
          _params(width=(0.55, 0.8), bar_y=(0.5, 0.68), arm_x=(0.0, 0.2), lean=(-0.05, 0.12), stem_x=(0.6, 0.8),
                  stem_top=(0.0, 0.2)), _four_open),
    Style("four_closed", 4, "4 closed at the top: a triangle (diagonal, bar) and a stem", True,
          _params(width=(0.6, 0.85), bar_y=(0.55, 0.72), stem_x=(0.6, 0.8), apex=(0.0, 0.08),
                  stem_dx=(-0.03, 0.03)), _four_closed),
    Style("five_detached", 5, "5 whose top bar is a separate stroke, not touching the stem", True,
          _params(width=(0.5, 0.75), mid_y=(0.38, 0.5), bowl=(0.8, 1.0), start=(-170, -140), end=(110, 160),
                  stem_x=(0.0, 0.2), stem_top=(0.06, 0.14), gap=(0.03, 0.12), bar_tilt=(-0.03, 0.05)),
          _five_detached),
    Style("seven_crossbar", 7, "7 with a bar across its stem at about mid height", False,
          _params(at=(0.45, 0.62), length=(0.45, 0.75), left=(0.4, 0.65), tilt=(-6, 6)), _crossbar, 4.5),
    Style("eight_two_loops", 8, "8 drawn as two separate loops, one over the other", True,
          _params(width=(0.45, 0.7), top=(0.2, 0.25), top_w=(0.7, 0.95), overlap=(0, 25), dx=(-0.04, 0.04)),
          _eight_two_loops),
    Style("nine_straight", 9, "9 with a loop and a straight stem down from its right side", True,
          _params(width=(0.45, 0.7), loop=(0.2, 0.3), start=(-50, -10), close=(0, 25), stem_dx=(-0.08, 0.04)),
          _nine_straight),
]
#: Every style by name.
STYLES: dict[str, Style] = {s.name: s for s in _S}

#: The style mix of the held-out pen-digit set, per digit (weights add up to 1): what a
#: population of writers does, roughly. About 38% of zeros are slashed or dotted (programmers,
#: much of Europe), 38% of ones carry a flag (and 12% a base bar too), a quarter of sevens are
#: crossed, 40% of fours are written as templates (25% closed), 30% of nines have a straight
#: stem, 15-20% of twos, threes, fives and eights use the variant. Each writer keeps one style per
#: digit, drawn from this mix, so the set's mix varies a little around it.
PEN_MIX: dict[int, dict[str, float]] = {
    0: {"plain": 0.62, "zero_slashed": 0.22, "zero_dotted": 0.16},
    1: {"plain": 0.62, "one_flag": 0.26, "one_serif": 0.12},
    2: {"plain": 0.8, "two_loop": 0.2},
    3: {"plain": 0.85, "three_flat_top": 0.15},
    4: {"plain": 0.6, "four_closed": 0.25, "four_open": 0.15},
    5: {"plain": 0.85, "five_detached": 0.15},
    6: {"plain": 1.0},
    7: {"plain": 0.75, "seven_crossbar": 0.25},
    8: {"plain": 0.85, "eight_two_loops": 0.15},
    9: {"plain": 0.7, "nine_straight": 0.3},
}


def styles_of(digit: int) -> list[str]:
    """The style names for one digit, ``plain`` first."""
    return ["plain"] + [s.name for s in _S if s.digit == digit]


# --------------------------------------------------------------------------- #
# Styled digits
# --------------------------------------------------------------------------- #
def iter_styled_digits(
    n: int, seed: int, source_images: np.ndarray, source_labels: np.ndarray, *,
    styles: list[str] | None = None, mix: Mapping[int, Mapping[str, float]] | None = None, chunk: int = 250,
) -> Iterator[StyledDigit]:
    """Yield n styled drawings, shuffled, balanced over digits and, within a digit, over its styles.

    By default every digit's styles share its drawings, ``plain`` taking half of them when the
    digit has other styles. ``styles`` restricts the drawings to those styles (and to the digits
    they are for; ``plain`` stands for all ten), spread evenly; ``mix`` gives each digit's
    styles by weight instead ({digit: {style: weight}}, like PEN_MIX). Template styles need no
    source digit (source -1).
    """
    source_images, source_labels = _check_sources(n, seed, source_images, source_labels)
    plan = _plan(n, _shares(styles, mix, np.unique(source_labels)))
    rng = np.random.default_rng(seed)
    plan = [plan[i] for i in rng.permutation(len(plan))]
    sources = _pick_sources(plan, source_images, source_labels, rng)
    for start in range(0, n, chunk):
        part = list(zip(plan[start:start + chunk], sources[start:start + chunk]))
        bases = _skeleton_bases([s for _, s in part if s >= 0], source_images)
        for (label, name), source in part:
            style = STYLES[name]
            base = bases[source] if source >= 0 else None
            events, brush, height = _draw(style, base, style.params(rng), rng)
            yield StyledDigit(render_pen_strokes(events, brush), label, name, brush, height, source, -1)


def styled_images(
    n: int, seed: int, source_images: np.ndarray, source_labels: np.ndarray, *, styles: list[str] | None = None,
    mix: Mapping[int, Mapping[str, float]] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n styled drawings preprocessed as on Draw -> (images (n, 28, 28) uint8, labels (n,) uint8, styles (n,) str).

    The same drawings as iter_styled_digits; each canvas goes through mlp.preprocess.preprocess
    and to uint8 by rounding x * 255, ready to append to a training set. Use MNIST *train*
    images as sources to train on, *test* images to evaluate. About 7 ms a drawing on one core.
    """
    images = np.zeros((n, FIELD_SIZE, FIELD_SIZE), dtype=np.uint8)
    labels, names = np.empty(n, dtype=np.uint8), np.empty(n, dtype=object)
    for i, d in enumerate(iter_styled_digits(n, seed, source_images, source_labels, styles=styles, mix=mix)):
        images[i], labels[i], names[i] = to_uint8(preprocess(d.canvas)), d.label, d.style
    return images, labels, names.astype(str)


def to_uint8(x28: np.ndarray | None) -> np.ndarray:
    """preprocess output (28, 28) float in [0, 1] -> uint8 by rounding x * 255; None (blank) -> zeros."""
    if x28 is None:
        return np.zeros((FIELD_SIZE, FIELD_SIZE), dtype=np.uint8)
    return np.round(np.clip(x28, 0.0, 1.0) * 255).astype(np.uint8)


def _shares(styles, mix, classes):
    """{digit: {style: weight}} from the styles or mix arguments (checked), for the digits present."""
    if styles is not None and mix is not None:
        raise ValueError("give styles or mix, not both")
    if mix is not None:
        out = {}
        for digit, weights in mix.items():
            for name, w in weights.items():
                _check_style(name, digit)
                if not (isinstance(w, (int, float)) and w >= 0 and math.isfinite(w)):
                    raise ValueError(f"style weights must be finite numbers >= 0, got {name}: {w!r}")
            if sum(weights.values()) > 0:
                out[int(digit)] = {k: float(v) for k, v in weights.items() if v > 0}
    elif styles is not None:
        if isinstance(styles, str) or not len(styles):
            raise ValueError(f"styles must be a non-empty list of style names, got {styles!r}")
        for name in styles:
            _check_style(name)
        out = {}
        for digit in range(10):
            names = [s for s in styles if STYLES[s].digit in (None, digit)]
            if names:
                out[digit] = dict.fromkeys(names, 1.0)
    else:
        out = {}
        for digit in sorted({int(c) for c in classes} & set(range(10))):
            names = styles_of(digit)
            out[digit] = {s: (0.5 if s == "plain" else 0.5 / (len(names) - 1)) for s in names} if len(names) > 1 \
                else {"plain": 1.0}
    missing = sorted(set(out) - {int(c) for c in classes}
                     - {d for d, w in out.items() if all(STYLES[s].template for s in w)})
    if missing:
        raise ValueError(f"source_labels have no digit {missing[0]}, which these styles need")
    if not out:
        raise ValueError("no digit has a style with a positive weight")
    return out


def _check_style(name, digit=None):
    if name not in STYLES:
        raise ValueError(f"unknown style {name!r}; known: {', '.join(STYLES)}")
    if digit is not None and STYLES[name].digit not in (None, digit):
        raise ValueError(f"style {name!r} is for digit {STYLES[name].digit}, not {digit}")


def _plan(n, shares):
    """n (label, style) pairs: n // k per digit (the first n % k digits one more), styles by weight."""
    digits = sorted(shares)
    plan = []
    for j, digit in enumerate(digits):
        count = n // len(digits) + (j < n % len(digits))
        names = list(shares[digit])
        plan += [(digit, s) for s, c in zip(names, _apportion(count, [shares[digit][s] for s in names]))
                 for _ in range(c)]
    return plan


def _apportion(count, weights):
    """Split count by weights, largest remainders first (ties to the earlier), summing to count."""
    w = np.asarray(weights, dtype=np.float64) / sum(weights)
    exact = w * count
    out = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - out), kind="stable")[:count - out.sum()]:
        out[i] += 1
    return out.tolist()


def _pick_sources(plan, images, labels, rng):
    """A source index per planned drawing (-1 for templates), without replacement while a pool lasts."""
    sources = np.full(len(plan), -1, dtype=np.int64)
    default_usable = stroke_width(images) <= _MAX_SOURCE_WIDTH
    groups: dict[tuple[int, str], list[int]] = {}
    for i, key in enumerate(plan):
        if not STYLES[key[1]].template:
            groups.setdefault(key, []).append(i)
    for (label, name), rows in groups.items():
        of_label = labels == label
        usable_fn = STYLES[name].usable
        usable = default_usable.copy()
        if usable_fn is not None:
            usable[of_label] &= usable_fn(images[of_label])
        pool = np.flatnonzero(of_label & usable)
        if not len(pool):
            pool = np.flatnonzero(of_label)
        sources[rows] = rng.choice(pool, len(rows), replace=len(rows) > len(pool))
    return sources


def _skeleton_bases(indices, images):
    """{source index: smoothed skeleton strokes (x, y) in MNIST px} for the given sources."""
    unique = sorted(set(int(i) for i in indices))
    if not unique:
        return {}
    skeletons = skeletonize(_enlarge(images[unique]))
    return {i: skeleton_strokes(trace_paths(s)) for i, s in zip(unique, skeletons)}


def _draw(style, base, params, rng, *, brush=None, target_height=None, hand=None, wobble=None):
    """A style's strokes through the hand, placement and mouse events -> (events, brush, height)."""
    strokes = style.draw(base, params)
    if brush is None:
        brush = int(rng.integers(BRUSH_RANGE[0], BRUSH_RANGE[1] + 1))
    if target_height is None:
        low = min(max(HEIGHT_RANGE[0], style.min_height_in_brushes * brush), HEIGHT_RANGE[1])
        target_height = rng.uniform(low, HEIGHT_RANGE[1])
    return _hand_events(strokes, rng, brush=brush, target_height=target_height, hand=hand, wobble=wobble)


# --------------------------------------------------------------------------- #
# Writers
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Writer:
    """One person's hand: a style per digit and habits kept from drawing to drawing.

    hand: mean slant, rotation (degrees) and aspect; brush: pen width (px, the Draw slider does
    not move between drawings); height: usual ink height (px); wobble: shakiness (offset as a
    fraction of the height); params: each digit's style proportions; sources_per_digit: how many
    source digits per label the writer's "own" shapes come from.
    """

    id: int
    styles: tuple[str, ...]  # (10,) one style per digit
    hand: Hand
    brush: int
    height: float
    wobble: float
    params: tuple[dict, ...] = field(repr=False)
    sources_per_digit: int = 3

    def describe(self) -> str:
        """One line: the styles that are not plain and the hand."""
        styled = ", ".join(s for s in self.styles if s != "plain") or "all plain"
        h = self.hand
        return (f"writer {self.id}: {styled}; slant {h.slant:+.2f}, rotation {h.angle:+.1f} deg, "
                f"aspect {h.aspect:.2f}, brush {self.brush} px, {self.height:.0f} px tall, wobble {self.wobble:.3f}")


#: A writer's per-drawing variation around their habits.
_JITTER = {"slant": 0.04, "angle": 2.5, "log_aspect": 0.04, "log_height": 0.12, "params": 0.05}


def make_writer(seed: int, *, mix: Mapping[int, Mapping[str, float]] | None = None) -> Writer:
    """A random writer (seeded): styles drawn from ``mix`` (PEN_MIX by default), habits from wide ranges.

    Slant, rotation and aspect are drawn wider than drawn.generate's per-drawing ranges
    (slant N(-0.05, 0.17) clipped to +-0.5, rotation N(0, 5) deg clipped to +-14, aspect
    exp(N(0, 0.13)) clipped to exp(+-0.35)), so some writers are hard to read.
    """
    if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    mix = PEN_MIX if mix is None else mix
    _shares(None, mix, range(10))  # checks it
    rng = np.random.default_rng([int(seed), 0x57])
    styles = []
    for digit in range(10):
        weights = mix.get(digit, {"plain": 1.0})
        names = list(weights)
        p = np.asarray([weights[s] for s in names], dtype=np.float64)
        styles.append(names[int(rng.choice(len(names), p=p / p.sum()))])
    hand = Hand(float(np.clip(rng.normal(-0.05, 0.17), -0.5, 0.5)), float(np.clip(rng.normal(0, 5), -14, 14)),
                float(math.exp(np.clip(rng.normal(0, 0.13), -0.35, 0.35))))
    brush = int(rng.integers(BRUSH_RANGE[0], BRUSH_RANGE[1] + 1))
    low = max(HEIGHT_RANGE[0], 4.5 * brush)
    height = float(math.exp(rng.uniform(math.log(low), math.log(HEIGHT_RANGE[1] * 0.9))))
    wobble = float(rng.uniform(0.005, 0.035))
    params = tuple(STYLES[s].params(rng) for s in styles)
    return Writer(int(seed), tuple(styles), hand, brush, height, wobble, params)


def iter_writer_digits(
    writer: Writer, per_digit: int, seed: int, source_images: np.ndarray, source_labels: np.ndarray,
) -> Iterator[StyledDigit]:
    """Yield ``per_digit`` drawings of each digit by ``writer``, digits interleaved (0-9, 0-9, ...).

    The writer's own shapes come from ``writer.sources_per_digit`` source digits per label,
    chosen by the writer's id alone, so other seeds redraw the same shapes (teach on seed 0,
    test on seed 1); ``seed`` sets the per-drawing variation.
    """
    if not isinstance(writer, Writer):
        raise ValueError(f"writer must be a Writer (make_writer), got {type(writer).__name__}")
    source_images, source_labels = _check_sources(per_digit, seed, source_images, source_labels)
    usable = stroke_width(source_images) <= _MAX_SOURCE_WIDTH
    pools = {}
    for digit in range(10):
        style = STYLES[writer.styles[digit]]
        if style.template:
            pools[digit] = np.array([-1])
            continue
        of_label = source_labels == digit
        ok = usable.copy()
        if style.usable is not None:
            ok[of_label] &= style.usable(source_images[of_label])
        pool = np.flatnonzero(of_label & ok)
        pool = pool if len(pool) else np.flatnonzero(of_label)
        if not len(pool):
            raise ValueError(f"source_labels have no digit {digit}, which {writer.styles[digit]} needs")
        pick_rng = np.random.default_rng([writer.id, digit, 0x50])
        pools[digit] = pick_rng.choice(pool, min(writer.sources_per_digit, len(pool)), replace=False)
    bases = _skeleton_bases([i for p in pools.values() for i in p if i >= 0], source_images)
    rng = np.random.default_rng([writer.id, int(seed), 0x44])
    for k in range(per_digit):
        for digit in range(10):
            name = writer.styles[digit]
            source = int(pools[digit][k % len(pools[digit])])
            h = writer.hand
            hand = Hand(h.slant + rng.normal(0, _JITTER["slant"]), h.angle + rng.normal(0, _JITTER["angle"]),
                        h.aspect * math.exp(rng.normal(0, _JITTER["log_aspect"])))
            target = min(writer.height * math.exp(rng.normal(0, _JITTER["log_height"])), HEIGHT_RANGE[1])
            target = max(target, STYLES[name].min_height_in_brushes * writer.brush, HEIGHT_RANGE[0])
            params = {key: v * math.exp(rng.normal(0, _JITTER["params"])) for key, v in writer.params[digit].items()}
            events, brush, height = _draw(STYLES[name], bases.get(source), params, rng, brush=writer.brush,
                                          target_height=min(target, HEIGHT_RANGE[1]), hand=hand,
                                          wobble=writer.wobble * math.exp(rng.normal(0, 0.2)))
            yield StyledDigit(render_pen_strokes(events, brush), digit, name, brush, height, source, writer.id)


def writer_images(
    writer: Writer, per_digit: int, seed: int, source_images: np.ndarray, source_labels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The drawings of iter_writer_digits preprocessed as on Draw -> (images (n, 28, 28) uint8, labels (n,) uint8)."""
    n = 10 * per_digit
    images = np.zeros((n, FIELD_SIZE, FIELD_SIZE), dtype=np.uint8)
    labels = np.empty(n, dtype=np.uint8)
    for i, d in enumerate(iter_writer_digits(writer, per_digit, seed, source_images, source_labels)):
        images[i], labels[i] = to_uint8(preprocess(d.canvas)), d.label
    return images, labels


# --------------------------------------------------------------------------- #
# The held-out pen-digit set and its score
# --------------------------------------------------------------------------- #
@dataclass(eq=False)
class StyledInputs:
    """Preprocessed pen digits and what made them: x (n, 784) float32; labels, brush, height,
    writer (n,) int64; styles (n,) str."""

    x: np.ndarray
    labels: np.ndarray
    styles: np.ndarray
    writers: np.ndarray
    brush: np.ndarray
    height: np.ndarray
    n: int
    seed: int

    def __repr__(self):
        return f"StyledInputs(n={self.n}, seed={self.seed}, writers={len(np.unique(self.writers))})"


#: Each simulated writer of the pen-digit set draws this many of each digit.
PEN_PER_DIGIT = 5


def pen_digit_inputs(n: int = 5000, seed: int = 0, *, dataset=None) -> StyledInputs:
    """The held-out "real pen digits": n drawings by ceil(n / 50) simulated writers (5 of each digit).

    Sources are MNIST *test* digits; styles follow PEN_MIX through each writer's choices. The
    writers are make_writer(s) for seeds drawn from ``seed``. ``dataset`` is a loaded MNIST
    ``data.Dataset`` (loaded with ``data.load_dataset("mnist")`` by default).
    """
    if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0):
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if dataset is None:
        from data import load_dataset

        dataset = load_dataset("mnist")
    per_writer = 10 * PEN_PER_DIGIT
    writer_seeds = np.random.default_rng([int(seed), 0x77]).integers(0, 2**31, -(-n // per_writer))
    x = np.zeros((n, FIELD_SIZE * FIELD_SIZE), dtype=np.float32)
    labels, writers = np.empty(n, np.int64), np.empty(n, np.int64)
    brush, height = np.empty(n, np.int64), np.empty(n, np.int64)
    styles = np.empty(n, dtype=object)
    i = 0
    for ws in writer_seeds:
        writer = make_writer(int(ws))
        for d in iter_writer_digits(writer, PEN_PER_DIGIT, int(seed), dataset.x_test, dataset.y_test):
            if i == n:
                break
            x28 = preprocess(d.canvas)
            if x28 is not None:
                x[i] = x28.ravel()
            labels[i], styles[i], writers[i], brush[i], height[i] = d.label, d.style, d.writer, d.brush, d.height
            i += 1
    return StyledInputs(x, labels, styles.astype(str), writers, brush, height, n, int(seed))


def score_styles(model, inputs: StyledInputs, *, worst: int = 5) -> dict:
    """Accuracy of ``model`` on pen digits: overall, per class, per style and per writer (the worst ones)."""
    predicted = model.predict_proba(inputs.x).argmax(axis=1)
    correct = predicted == inputs.labels
    per_style = {}
    for name in STYLES:
        inside = inputs.styles == name
        if inside.any():
            per_style[name] = {"n": int(inside.sum()), "accuracy": float(correct[inside].mean())}
    ids = np.unique(inputs.writers)
    acc = np.array([correct[inputs.writers == w].mean() for w in ids])
    order = np.argsort(acc, kind="stable")[:worst]
    return {
        "n": int(inputs.n),
        "seed": int(inputs.seed),
        "generator_version": DRAWN_VERSION,
        "styles_version": STYLES_VERSION,
        "preprocess_version": PREPROCESS_VERSION,
        "accuracy": float(correct.mean()),
        "per_class_accuracy": [float(correct[inputs.labels == c].mean()) for c in range(10)],
        "per_style": per_style,
        "per_writer": {
            "writers": int(len(ids)),
            "median": float(np.median(acc)),
            "below_90": int((acc < 0.9).sum()),
            "worst": [{"writer": int(ids[j]), "n": int((inputs.writers == ids[j]).sum()), "accuracy": float(acc[j])}
                      for j in order],
        },
    }
