"""A user's own drawings, each kept with the digit it shows, for teaching a model their handwriting.

No Streamlit here. The Draw page keeps one `Drawings` per session (never shared with another
session) and hands `arrays()` to mlp.adapt through a teach job (webapp.training.start.start_teaching).

    drawings = Drawings()
    kept = drawings.keep(x28, 7)        # the drawing on the canvas, labelled 7
    images, labels = drawings.arrays()  # uint8 (n, 28, 28), int64 (n,)
"""

import itertools
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from webapp.settings import MAX_DRAWINGS

__all__ = ["MAX_DRAWINGS", "MIN_DRAWINGS", "N_DIGITS", "Drawing", "Drawings", "DrawingsError", "Merged",
           "kept_note", "memory_note", "to_pixels"]

#: Teach needs this many drawings, of any digits: a few corrections are what people give. Most of
#: every teaching batch (seven eighths) is replayed MNIST images of all digits, so teaching only the
#: digits someone corrected does not make the model read everything as them (measured when it was
#: three quarters: 2 ones and 2 sevens of one writer left MNIST test at 99.30%, as before).
MIN_DRAWINGS = 3
N_DIGITS = 10
SIDE = 28


class DrawingsError(ValueError):
    """A drawing or label that cannot be kept (or the collection is full); the message says which."""


class Drawing(NamedTuple):
    """One kept drawing: a number unique in its collection, the 28x28 input (uint8), its digit."""

    id: int
    image: np.ndarray  # (28, 28) uint8, read-only
    label: int


class Merged(NamedTuple):
    """What Drawings.merge did: drawings added, already kept (left as they were), left out (the cap), refused
    (blank or not a drawing)."""

    added: int
    already: int
    left_out: int
    refused: int


def kept_note(adapted: dict[str, Any]) -> str | None:
    """What the taught model kept of its teaching, in words, when it kept less than all of it (else None).

    adapted: a taught model's meta["adapted"] (mlp.adapt.AdaptResult.figures()).
    """
    check = adapted.get("check") or {}
    blend = adapted.get("blend", 1)
    asked = (adapted.get("config") or {}).get("blend", 1)  # what teaching was set to keep
    if not check.get("n") or blend >= asked or check.get("before") is None or check.get("after") is None:
        return None
    return (f"It keeps {blend:.0%} of what teaching changed: all of it made the model misread more of the "
            f"{check['n']:,} digits it was validated on (now {check['after']:.2%}, before {check['before']:.2%}).")


def memory_note(adapted: dict[str, Any]) -> str | None:
    """What the taught model remembers of the drawings, in words (None when it keeps no memory).

    adapted: a taught model's meta["adapted"] (mlp.adapt.AdaptResult.figures()).
    """
    memory = adapted.get("memory")
    if not isinstance(memory, dict) or not isinstance(memory.get("drawings"), int):
        return None
    n = memory["drawings"]
    copies = memory.get("count", n) - n
    extra = f" and {copies:,} distorted copies of them" if isinstance(copies, int) and copies > 0 else ""
    return (f"It also remembers your {n:,} drawing{'s' if n != 1 else ''}{extra}: a drawing close to one of them "
            "reads as its digit, and the others as the network reads them. Its file keeps what the network saw in "
            "each (its last hidden layer), from which a drawing can be roughly rebuilt: share it only if that is fine.")


def to_pixels(x28: ArrayLike) -> NDArray[np.uint8]:
    """A preprocessed drawing ((28, 28) floats in [0, 1], or uint8) as read-only uint8; DrawingsError if not one."""
    x = np.asarray(x28)
    if x.shape != (SIDE, SIDE):
        raise DrawingsError(f"a drawing must be a 28x28 image, got shape {x.shape}")
    if x.dtype == np.uint8:
        pixels = x.copy()
    elif x.dtype.kind == "f":
        lo, hi = float(x.min()), float(x.max())
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi > 1:
            raise DrawingsError(f"a drawing's pixels must be finite values in [0, 1], got [{lo:g}, {hi:g}]")
        pixels = np.rint(x * 255).astype(np.uint8)
    else:
        raise DrawingsError(f"a drawing must hold uint8 or floats in [0, 1], got dtype {x.dtype}")
    if not pixels.any():
        raise DrawingsError("the drawing is empty: there is nothing to keep")
    pixels.flags.writeable = False
    return pixels


def _check_label(label: object) -> int:
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < N_DIGITS:
        raise DrawingsError(f"a drawing's label must be a digit 0-9, got {label!r}")
    return int(label)


class Drawings:
    """An ordered collection of labelled drawings, at most `cap` of them."""

    def __init__(self, cap: int = MAX_DRAWINGS) -> None:
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise DrawingsError(f"the cap must be a positive integer, got {cap!r}")
        self.cap = cap
        self._items: list[Drawing] = []
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Drawing]:
        return iter(list(self._items))

    def __repr__(self) -> str:
        return f"Drawings({len(self)} of {self.cap}, per digit {self.counts()})"

    @property
    def full(self) -> bool:
        """True when no more drawings can be kept."""
        return len(self._items) >= self.cap

    def find(self, x28: ArrayLike) -> Drawing | None:
        """The kept Drawing with exactly this image, or None."""
        pixels = to_pixels(x28)
        return next((d for d in self._items if np.array_equal(d.image, pixels)), None)

    def keep(self, x28: ArrayLike, label: int) -> tuple[Drawing, bool]:
        """Keep a drawing with its digit; returns (Drawing, relabelled).

        The same image kept again is not duplicated: it gets the new label (relabelled=True),
        so a second click on another digit corrects the first. Raises DrawingsError for a bad
        image or label, or when the collection is full.
        """
        label = _check_label(label)
        pixels = to_pixels(x28)
        for i, d in enumerate(self._items):
            if np.array_equal(d.image, pixels):
                self._items[i] = d._replace(label=label)
                return self._items[i], True
        if self.full:
            raise DrawingsError(f"you have kept {self.cap} drawings, the most one session holds: "
                                "delete some to keep new ones")
        drawing = Drawing(next(self._ids), pixels, label)
        self._items.append(drawing)
        return drawing, False

    def merge(self, images: Iterable[ArrayLike], labels: Iterable[object]) -> Merged:
        """Add drawings kept elsewhere (e.g. loaded from a link) after these, oldest first; a Merged.

        A drawing this collection already has keeps its own label; past the cap the rest are left out;
        a blank or malformed one, or a label outside 0-9, is refused (counted, not raised).
        """
        added = already = left_out = refused = 0
        for image, label in zip(images, labels, strict=True):
            try:
                label, pixels = _check_label(label), to_pixels(image)
            except DrawingsError:
                refused += 1
                continue
            if any(np.array_equal(d.image, pixels) for d in self._items):
                already += 1
            elif self.full:
                left_out += 1
            else:
                self._items.append(Drawing(next(self._ids), pixels, label))
                added += 1
        return Merged(added, already, left_out, refused)

    def delete(self, drawing_id: int) -> bool:
        """Remove the drawing with this id; False if there is none."""
        before = len(self._items)
        self._items = [d for d in self._items if d.id != drawing_id]
        return len(self._items) < before

    def clear(self) -> None:
        """Remove every drawing."""
        self._items = []

    def counts(self) -> list[int]:
        """How many drawings of each digit: a list of 10 ints."""
        return np.bincount([d.label for d in self._items], minlength=N_DIGITS).tolist()

    def missing(self, per_digit: int = 1) -> list[int]:
        """The digits with fewer than `per_digit` drawings, in order."""
        return [digit for digit, n in enumerate(self.counts()) if n < per_digit]

    def ready(self) -> bool:
        """True when there are enough drawings to teach (MIN_DRAWINGS)."""
        return len(self) >= MIN_DRAWINGS

    def arrays(self) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
        """(images uint8 (n, 28, 28), labels int64 (n,)), oldest first, for mlp.adapt."""
        if not self._items:
            return np.zeros((0, SIDE, SIDE), np.uint8), np.zeros(0, np.int64)
        return (np.stack([d.image for d in self._items]),
                np.array([d.label for d in self._items], dtype=np.int64))
