"""Drawings that are not digits, through the same pen pipeline as the drawn digits.

* **letters**: capital letters rendered from the fonts kept in drawn/fonts to a 28x28 MNIST-like
  image (white on black, fitted in a 20x20 box and centred by mass, by ``mlp.preprocess.preprocess``),
  then thinned, traced and redrawn as pen strokes exactly like ``drawn.generate``'s digits. The
  training and evaluation splits use disjoint font families (FONTS).
* **scribbles**: one to three random smooth curves wandering and looping.
* **shapes**: what a visitor draws to test the app: a circle with a cross, triangle, square,
  star, heart, arrow, smiley, hash, wave, house.

    images, kinds, chars = negative_images(3000, 0, split="train")   # (n, 28, 28) uint8, as on Draw
    for d in iter_negatives(20, 0, split="eval"):
        d.canvas, d.kind, d.char                                      # (280, 280) uint8, "letters", "T"

Letters that look like digits (DIGIT_LIKE_LETTERS: O I S Z B G Q) are in the table but marked:
the training split leaves them out by default (a model must not learn that a round 0 is no
digit), the evaluation split keeps them so a caller can report them apart.
"""

from __future__ import annotations

import functools
import math
import string
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from mlp.preprocess import FIELD_SIZE, preprocess

from .generate import _check_sources
from .hand import _hand_events
from .polylines import Stroke, _arc, _poly
from .render import render_pen_strokes
from .skeleton import _enlarge, skeleton_strokes, skeletonize, trace_paths
from .styles import to_uint8

__all__ = [
    "DIGIT_LIKE_LETTERS",
    "FONTS",
    "KINDS",
    "LETTERS",
    "SHAPES",
    "Font",
    "Negative",
    "glyph_image",
    "iter_negatives",
    "letter_canvases",
    "negative_images",
]

LETTERS = string.ascii_uppercase
#: Capital letters a person may read as a digit (0 1 5 2 8 6 9): not "should be flagged", not trained as negatives.
DIGIT_LIKE_LETTERS = frozenset("OISZBGQ")
KINDS = ("letters", "scribbles", "shapes")
SPLITS = ("train", "eval")


class Font(NamedTuple):
    """One font file kept in drawn/fonts, the split it belongs to, and the full font it was cut from.

    The files hold only the capitals A-Z (drawn.subset_fonts cut them from Debian's font packages,
    hinting kept: FreeType draws each letter exactly as from ``source``). drawn/fonts/README.md
    says where each comes from and under which license.
    """

    split: str
    path: str
    source: str


_FONTS_DIR = Path(__file__).resolve().parent / "fonts"
_T, _E = "/usr/share/fonts/truetype", "/usr/share/fonts/opentype"
#: Disjoint families: DejaVu, Liberation and Carlito train; FreeFont, URW base35 and Comic Neue evaluate.
#: Liberation and Carlito reserve their names (SIL OFL), so their subsets are renamed Digit Lab Sans/Serif/Mono
#: and Digit Lab Humanist.
FONTS: tuple[Font, ...] = (
    *(Font("train", f"{_FONTS_DIR}/dejavu/{f}.ttf", f"{_T}/dejavu/{f}.ttf")
      for f in ("DejaVuSans", "DejaVuSerif", "DejaVuSansMono", "DejaVuSans-Bold")),
    *(Font("train", f"{_FONTS_DIR}/liberation/DigitLab{f}.ttf", f"{_T}/liberation2/Liberation{f}.ttf")
      for f in ("Sans-Regular", "Serif-Regular", "Mono-Regular", "Sans-Italic")),
    *(Font("train", f"{_FONTS_DIR}/carlito/DigitLabHumanist-{f}.ttf", f"{_T}/crosextra/Carlito-{f}.ttf")
      for f in ("Regular", "Italic")),
    *(Font("eval", f"{_FONTS_DIR}/freefont/{f}.ttf", f"{_T}/freefont/{f}.ttf")
      for f in ("FreeSans", "FreeSerif", "FreeMono")),
    *(Font("eval", f"{_FONTS_DIR}/urw-base35/{f}.otf", f"{_E}/urw-base35/{f}.otf")
      for f in ("NimbusSans-Regular", "NimbusRoman-Regular", "URWGothic-Book", "URWBookman-Light", "C059-Roman")),
    *(Font("eval", f"{_FONTS_DIR}/comic-neue/ComicNeue-{f}.otf", f"{_E}/comic-neue/ComicNeue-{f}.otf")
      for f in ("Regular", "Bold")),
)


class Negative(NamedTuple):
    """One drawing that is no digit: canvas (280, 280) uint8, kind, char (the letter or shape name),
    font (path, "" for scribbles and shapes), brush and ink height (px)."""

    canvas: np.ndarray
    kind: str
    char: str
    font: str
    brush: int
    height: int


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #
def negative_images(
    n: int, seed: int, *, split: str = "train", kinds: str | Iterable[str] = KINDS, letters: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n negatives preprocessed as on Draw -> (images (n, 28, 28) uint8, kinds (n,) str, chars (n,) str).

    The same drawings as iter_negatives (see it for the arguments).
    """
    images = np.zeros((n if _is_count(n) else 0, FIELD_SIZE, FIELD_SIZE), dtype=np.uint8)
    out_kinds, chars = [], []
    for i, d in enumerate(iter_negatives(n, seed, split=split, kinds=kinds, letters=letters)):
        images[i] = to_uint8(preprocess(d.canvas))
        out_kinds.append(d.kind)
        chars.append(d.char)
    return images, np.array(out_kinds, dtype=str), np.array(chars, dtype=str)


def iter_negatives(
    n: int, seed: int, *, split: str = "train", kinds: str | Iterable[str] = KINDS, letters: str | None = None,
) -> Iterator[Negative]:
    """Yield n pen drawings that are no digit, shuffled, split evenly over ``kinds``.

    Letters are spread evenly over ``letters`` (default: every capital, less DIGIT_LIKE_LETTERS
    for split="train") and the split's fonts; shapes evenly over SHAPES. Raises
    FileNotFoundError naming the font when a font of the split is missing.
    """
    _check_count(n, seed)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not kinds or any(k not in KINDS for k in kinds) or len(set(kinds)) != len(kinds):
        raise ValueError(f"kinds must be distinct names from {KINDS}, got {kinds!r}")
    if letters is None:
        letters = "".join(c for c in LETTERS if split == "eval" or c not in DIGIT_LIKE_LETTERS)
    if not letters or any(c not in LETTERS for c in letters):
        raise ValueError(f"letters must be capitals A-Z, got {letters!r}")
    fonts = [f for f in FONTS if f.split == split]
    if "letters" in kinds:
        _check_fonts(fonts)
    rng = np.random.default_rng(seed)
    counts = [n // len(kinds) + (j < n % len(kinds)) for j in range(len(kinds))]
    plan = []
    for kind, count in zip(kinds, counts):
        if kind == "letters":
            # Even over letters, then each letter's drawings even over the fonts.
            chosen = [letters[i] for i in _even(len(letters), count, rng)]
            fonts_of = {c: iter(_even(len(fonts), chosen.count(c), rng)) for c in sorted(set(chosen))}
            picks = [(c, fonts[next(fonts_of[c])].path) for c in chosen]
        elif kind == "shapes":
            picks = [(list(SHAPES)[i], "") for i in _even(len(SHAPES), count, rng)]
        else:
            picks = [("scribble", "")] * count
        plan += [(kind, char, font) for char, font in picks]
    for j in rng.permutation(len(plan)):
        kind, char, font = plan[j]
        if kind == "letters":
            strokes = _glyph_strokes(font, char)
        elif kind == "shapes":
            strokes = SHAPES[char](rng)
        else:
            strokes = _scribble(rng)
        events, brush, height = _hand_events(strokes, rng)
        yield Negative(render_pen_strokes(events, brush), kind, char, font, brush, height)


def letter_canvases(
    n: int, seed: int, *, split: str = "eval", letters: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """n pen-drawn capital letters -> (canvases (n, 280, 280) uint8, chars (n,) str), e.g. to save as PNGs."""
    canvases = np.zeros((n if _is_count(n) else 0, 280, 280), dtype=np.uint8)
    chars = []
    for i, d in enumerate(iter_negatives(n, seed, split=split, kinds=("letters",), letters=letters)):
        canvases[i] = d.canvas
        chars.append(d.char)
    return canvases, np.array(chars, dtype=str)


def glyph_image(font_path: str, char: str) -> np.ndarray:
    """One character of a font as a 28x28 MNIST-like uint8 image (white on black, 20x20 box, centred by mass)."""
    return _glyph_image(str(font_path), char).copy()


# --------------------------------------------------------------------------- #
# Letters
# --------------------------------------------------------------------------- #
def _check_fonts(fonts: Iterable[Font]) -> None:
    for f in fonts:
        if not Path(f.path).is_file():
            raise FileNotFoundError(f"font {f.path} is missing")


@functools.lru_cache(maxsize=4096)
def _glyph_image(font_path: str, char: str) -> NDArray[np.uint8]:
    if not Path(font_path).is_file():
        raise FileNotFoundError(f"font {font_path} is missing")
    x28 = preprocess(_draw_glyph(font_path, char))
    if x28 is None:
        raise ValueError(f"font {font_path} draws nothing for {char!r}")
    return to_uint8(x28)


def _draw_glyph(font_path: str, char: str) -> Image.Image:
    """One character at 200 px, white on black, centred on a 320x320 image ("L")."""
    img = Image.new("L", (320, 320), 0)
    ImageDraw.Draw(img).text((160, 160), char, fill=255, font=ImageFont.truetype(font_path, 200), anchor="mm")
    return img


@functools.lru_cache(maxsize=4096)
def _glyph_skeleton(font_path: str, char: str) -> tuple[Stroke, ...]:
    skeleton = skeletonize(_enlarge(_glyph_image(font_path, char)[None]))[0]
    return tuple(skeleton_strokes(trace_paths(skeleton)))


def _glyph_strokes(font_path: str, char: str) -> list[Stroke]:
    return [s.copy() for s in _glyph_skeleton(font_path, char)]


# --------------------------------------------------------------------------- #
# Scribbles and shapes (unit box, y down)
# --------------------------------------------------------------------------- #
def _scribble(rng: np.random.Generator) -> list[Stroke]:
    """1-2 smooth random curves: through 4-9 random points, or a wandering walk that loops."""
    strokes = []
    for _ in range(int(rng.integers(1, 3))):
        if rng.random() < 0.5:
            points = _poly(rng.uniform(0, 1, (int(rng.integers(4, 10)), 2)))
            strokes.append(_moving_average(_moving_average(points, 12), 12))
        else:
            steps = int(rng.integers(150, 350))
            turn = np.cumsum(rng.normal(0, 0.003, steps)) + rng.uniform(-0.05, 0.05)  # a drifting turn rate
            heading = rng.uniform(0, 2 * np.pi) + np.cumsum(turn + rng.normal(0, 0.02, steps))
            xy = np.cumsum(np.stack([np.cos(heading), np.sin(heading)], axis=1) * 0.01, axis=0)
            strokes.append(xy + rng.uniform(-0.3, 0.3, 2))
    return strokes


def _moving_average(points: Stroke, k: int) -> Stroke:
    """Smooth a polyline (m, 2) over 2k + 1 points, ends held."""
    if len(points) <= 2 * k:
        return points
    padded = np.concatenate([np.repeat(points[:1], k, 0), points, np.repeat(points[-1:], k, 0)])
    kernel = np.ones(2 * k + 1) / (2 * k + 1)
    return np.stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(2)], axis=1)


def _circle_cross(rng: np.random.Generator) -> list[Stroke]:
    r = 0.5
    circle = _arc(0.5, 0.5, r, r * rng.uniform(0.9, 1.1), -90, -450 - rng.uniform(0, 20))
    a = rng.uniform(0, 45)
    d = r * rng.uniform(0.6, 1.0) * np.array([math.cos(math.radians(a)), math.sin(math.radians(a))])
    e = np.array([-d[1], d[0]])
    c = np.array([0.5, 0.5])
    return [circle, _poly([c - d, c + d]), _poly([c - e, c + e])]


def _triangle(rng: np.random.Generator) -> list[Stroke]:
    w = rng.uniform(0.7, 1.2)
    apex = (w * rng.uniform(0.3, 0.7), 0.0)
    return [_poly([apex, (0.0, 1.0), (w, 1.0), apex])]


def _square(rng: np.random.Generator) -> list[Stroke]:
    w = rng.uniform(0.7, 1.3)
    return [_poly([(0, 0), (w, 0), (w, 1), (0, 1), (0, 0)])]


def _star(rng: np.random.Generator) -> list[Stroke]:
    r, spin = 0.5, rng.uniform(-15, 15)
    angles = np.deg2rad(-90 + spin + 144 * np.arange(6))
    return [_poly(np.stack([0.5 + r * np.cos(angles), 0.5 + r * np.sin(angles)], axis=1))]


def _heart(rng: np.random.Generator) -> list[Stroke]:
    t = np.linspace(0, 2 * np.pi, 200)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return [np.stack([x, y], axis=1) / 32 * np.array([rng.uniform(0.8, 1.2), 1.0])]


def _arrow(rng: np.random.Generator) -> list[Stroke]:
    a = math.radians(rng.choice([0, 90, 180, 270]) + rng.uniform(-20, 20))
    tip = np.array([math.cos(a), math.sin(a)]) * 0.5
    head = rng.uniform(0.15, 0.3)
    back = [tip - head * np.array([math.cos(a + s), math.sin(a + s)]) for s in (0.5, -0.5)]
    return [_poly([-tip, tip]), _poly([back[0], tip, back[1]])]


def _smiley(rng: np.random.Generator) -> list[Stroke]:
    face = _arc(0.5, 0.5, 0.5, 0.5, -90, -450 - rng.uniform(0, 15))
    eyes = [_poly([(x, 0.35), (x, 0.35 + rng.uniform(0.02, 0.08))]) for x in (0.33, 0.67)]
    mouth = _arc(0.5, 0.5 + rng.uniform(0.0, 0.1), 0.25, 0.2, 20, 160)
    return [face, *eyes, mouth]


def _hash(rng: np.random.Generator) -> list[Stroke]:
    s = rng.uniform(-0.15, 0.15)
    return [_poly([(0.35 + s, 0), (0.35 - s, 1)]), _poly([(0.65 + s, 0), (0.65 - s, 1)]),
            _poly([(0, 0.35), (1, 0.35)]), _poly([(0, 0.65), (1, 0.65)])]


def _wave(rng: np.random.Generator) -> list[Stroke]:
    x = np.linspace(0, 1, 150)
    cycles = rng.uniform(1.5, 3)
    return [np.stack([x, 0.15 * np.sin(2 * np.pi * cycles * x)], axis=1)]


def _house(rng: np.random.Generator) -> list[Stroke]:
    roof = rng.uniform(0.3, 0.5)
    return [_poly([(0, 1), (0, roof), (0.5, 0), (1, roof), (1, 1), (0, 1)])]


#: Each shape's strokes (unit box) for a random rng.
SHAPES = {
    "circle_cross": _circle_cross, "triangle": _triangle, "square": _square, "star": _star, "heart": _heart,
    "arrow": _arrow, "smiley": _smiley, "hash": _hash, "wave": _wave, "house": _house,
}


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #
def _even(k: int, count: int, rng: np.random.Generator) -> NDArray[np.int_]:
    """count indices into range(k), each used count // k or one more times, the extra ones at random."""
    return np.concatenate([np.tile(np.arange(k), count // k), rng.choice(k, count % k, replace=False)]).astype(int)


def _is_count(n: object) -> bool | np.bool_:
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0


def _check_count(n: int, seed: int) -> None:
    _check_sources(n, seed, np.zeros((0, 28, 28), np.uint8), np.zeros(0))
