"""The table of styles: each ``Style`` by name (``STYLES``), and the mix of them people write (``PEN_MIX``).

A new style is a function in ``marks`` (strokes added to an MNIST digit) or ``templates`` (the
digit drawn from a unit box) and a row here with the ranges of its proportions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..polylines import Stroke
from .marks import _base_bar, _crossbar, _dot, _flag, _slash, _usable_stick
from .templates import (
    _eight_two_loops,
    _five_detached,
    _four_closed,
    _four_open,
    _nine_straight,
    _three_flat_top,
    _two_loop,
)

__all__ = ["PEN_MIX", "STYLES", "STYLES_VERSION", "Style", "styles_of"]

#: Bump whenever the output of drawn.styles for a given seed changes.
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
    params: Callable[[np.random.Generator], dict[str, float]]
    # The source's skeleton strokes for an added-stroke style, None for a template: Any, as each takes one of them.
    draw: Callable[[Any, dict[str, float]], list[Stroke]]
    #: Drawn at least this many pen widths tall (a dot inside a 0 needs room to stay a dot).
    min_height_in_brushes: float = 3.5
    #: Which source digits it can use (bool mask over (m, 28, 28) uint8), added-stroke styles only.
    usable: Callable[[np.ndarray], np.ndarray] | None = None


def _params(**ranges: tuple[float, float]) -> Callable[[np.random.Generator], dict[str, float]]:
    """A params(rng) drawing each named proportion uniformly from its (low, high)."""
    return lambda rng: {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in ranges.items()}


def _plain(base: list[Stroke], _: dict[str, float]) -> list[Stroke]:
    return base


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
