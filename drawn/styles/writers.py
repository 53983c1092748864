"""Simulated writers: one person's hand, one style per digit and habits kept from drawing to drawing.

``make_writer`` draws a writer from a seed; ``iter_writer_digits`` has them write each digit
again and again, with a little variation around their habits, from a few source digits of
their own; ``writer_images`` preprocesses those drawings as Draw does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from mlp.preprocess import FIELD_SIZE, preprocess

from ..generate import _check_sources
from ..hand import BRUSH_RANGE, HEIGHT_RANGE, Hand
from ..render import render_pen_strokes
from ..skeleton import _MAX_SOURCE_WIDTH, stroke_width
from .styled import StyledDigit, _draw, _shares, _skeleton_bases, to_uint8
from .table import PEN_MIX, STYLES

__all__ = ["Writer", "iter_writer_digits", "make_writer", "writer_images"]


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
