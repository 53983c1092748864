"""What mlp.adapt learns from, checked: labelled drawings as arrays (`check_drawings`) or as canvas
files with a labels file (`read_labels`, `read_drawings`, for the command line), the replayed and
check digits, and the model. Every refusal is an AdaptError saying which input and why.

Nothing here prints; reading files is all it does besides checking.
"""

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .arrays import Pixels
from .network import MLP
from .preprocess import load_image, preprocess

#: At most this many drawings per call: more would not fit the time budget of a click.
MAX_DRAWINGS = 500
SIDE = 28
N_CLASSES = 10


class AdaptError(ValueError):
    """Drawings, labels or replay data that cannot be learnt from; the message says which and why."""


def check_drawings(images: ArrayLike, labels: ArrayLike) -> tuple[Pixels, NDArray[np.int64], list[int]]:
    """Validate drawings and labels; returns (uint8 (m, 28, 28), int64 (m,), skipped indices).

    images: (n, 28, 28) uint8, or floats in [0, 1] as mlp.preprocess gives them; labels: (n,)
    integers 0-9. All-zero drawings are dropped and their indices returned. Raises AdaptError.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise AdaptError(f"drawings must be an array shaped (n, 28, 28), got shape {images.shape}")
    n = len(images)
    if n == 0:
        raise AdaptError("no drawings to learn from")
    if labels.ndim != 1 or len(labels) != n:
        raise AdaptError(f"{n} drawings but labels shaped {labels.shape} (expected ({n},))")
    if n > MAX_DRAWINGS:
        raise AdaptError(f"{n} drawings is more than the limit of {MAX_DRAWINGS}")
    pixels = _as_uint8(images)
    if labels.dtype.kind not in "ui" or labels.dtype == np.bool_:
        raise AdaptError(f"labels must be integers 0-9, got dtype {labels.dtype}")
    bad = np.flatnonzero((labels < 0) | (labels >= N_CLASSES))
    if len(bad):
        raise AdaptError(f"label {int(labels[bad[0]])} of drawing {int(bad[0])} is outside 0-9")
    empty = ~pixels.reshape(n, -1).any(axis=1)
    skipped = np.flatnonzero(empty).tolist()
    if len(skipped) == n:
        raise AdaptError(f"all {n} drawings are empty (no ink)")
    keep = ~empty
    return pixels[keep], labels[keep].astype(np.int64), skipped


def _as_uint8(images: NDArray[Any]) -> Pixels:
    """uint8 as is; floats in [0, 1] rounded to 0..255; anything else refused."""
    if images.dtype == np.uint8:
        return images
    if images.dtype.kind != "f":
        raise AdaptError(f"drawings must be uint8 or floats in [0, 1], got dtype {images.dtype}")
    lo, hi = float(images.min()), float(images.max())
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0 or hi > 1:
        raise AdaptError(f"float drawings must hold finite values in [0, 1], got [{lo:g}, {hi:g}]")
    pixels: Pixels = np.rint(images * 255).astype(np.uint8)
    return pixels


def check_replay(replay: tuple[ArrayLike, ArrayLike], name: str = "replay") -> tuple[Pixels, NDArray[np.int64]]:
    """(x uint8 (m, 28, 28), y int64 (m,)) or AdaptError naming `name`."""
    try:
        x, y = replay
    except (TypeError, ValueError):
        raise AdaptError(f"{name} must be a pair (images, labels)") from None
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (SIDE, SIDE) or len(x) == 0:
        raise AdaptError(f"{name} images must be uint8 shaped (m, 28, 28) with m > 0, got {x.dtype} {x.shape}")
    if y.shape != (len(x),):
        raise AdaptError(f"{len(x)} {name} images but labels shaped {y.shape}")
    return x, y.astype(np.int64)


def check_model(model: MLP) -> None:
    """AdaptError unless the model maps 784 inputs to 10 digits."""
    if model.layer_sizes[0] != SIDE * SIDE or model.layer_sizes[-1] != N_CLASSES:
        raise AdaptError(f"the model must map 784 inputs to 10 digits, got layer sizes {model.layer_sizes}")


def read_labels(path: str | os.PathLike[str]) -> dict[str, int]:
    """{file name: digit} from a JSON object file; raises AdaptError naming what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AdaptError(f"labels file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise AdaptError(f"labels file {path}: cannot read it: {e}") from None
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as e:
        raise AdaptError(f"labels file {path}: not valid JSON ({e})") from None
    if not isinstance(mapping, dict):
        raise AdaptError(f"labels file {path}: expected a JSON object mapping file names to digits")
    for name, digit in mapping.items():
        if not isinstance(digit, int) or isinstance(digit, bool):
            raise AdaptError(f"labels file {path}: the label of {name!r} must be an integer 0-9, got {digit!r}")
        if not 0 <= digit < N_CLASSES:
            raise AdaptError(f"labels file {path}: the label of {name!r} is {digit}, outside 0-9")
    return mapping


def read_drawings(paths: Iterable[str | os.PathLike[str]],
                  labels: Mapping[str, int]) -> tuple[Pixels, NDArray[np.int64], list[str]]:
    """Canvas images preprocessed as on Draw, with their labels from `labels` ({file name: digit}).

    Returns (images uint8 (n, 28, 28), labels int64 (n,), empty file names). Raises AdaptError for
    a name given twice, an image without a label, a label without an image, an unreadable image,
    more than MAX_DRAWINGS images, or images that are all empty.
    """
    files = [Path(p) for p in paths]
    if not files:
        raise AdaptError("no drawings to learn from")
    if len(files) > MAX_DRAWINGS:
        raise AdaptError(f"{len(files)} drawings is more than the limit of {MAX_DRAWINGS}")
    names = [p.name for p in files]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise AdaptError(f"file name {twice[0]!r} is given twice (labels are keyed by file name)")
    unlabelled = [n for n in names if n not in labels]
    if unlabelled:
        raise AdaptError(f"{len(unlabelled)} image(s) missing from the labels file, e.g. {unlabelled[0]!r}")
    orphans = sorted(set(labels) - set(names))
    if orphans:
        raise AdaptError(f"the labels file names {len(orphans)} image(s) not given, e.g. {orphans[0]!r}")
    images, digits, empty = [], [], []
    for path in files:
        try:
            x = preprocess(load_image(path))
        except (ValueError, OSError) as e:
            raise AdaptError(str(e)) from None  # load_image's message names the path
        if x is None:
            empty.append(path.name)
            continue
        images.append(np.rint(x * 255).astype(np.uint8))
        digits.append(labels[path.name])
    if not images:
        raise AdaptError(f"all {len(files)} drawings are empty (no ink)")
    return np.stack(images), np.array(digits, dtype=np.int64), empty
