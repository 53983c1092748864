"""The held-out "real pen digits": drawings of MNIST test digits by many simulated writers, and their score.

``pen_digit_inputs`` makes the set (preprocessed as on Draw); ``score_styles`` gives a model's
accuracy on it overall, per class, per style and per writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlp.preprocess import FIELD_SIZE, PREPROCESS_VERSION, preprocess

from ..generate import DRAWN_VERSION
from .table import STYLES, STYLES_VERSION
from .writers import iter_writer_digits, make_writer

if TYPE_CHECKING:
    from data import Dataset
    from mlp.network import MLP

__all__ = ["PEN_PER_DIGIT", "StyledInputs", "pen_digit_inputs", "score_styles"]


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

    def __repr__(self) -> str:
        return f"StyledInputs(n={self.n}, seed={self.seed}, writers={len(np.unique(self.writers))})"


#: Each simulated writer of the pen-digit set draws this many of each digit.
PEN_PER_DIGIT = 5


def pen_digit_inputs(n: int = 5000, seed: int = 0, *, dataset: Dataset | None = None) -> StyledInputs:
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


def score_styles(model: MLP, inputs: StyledInputs, *, worst: int = 5) -> dict[str, Any]:
    """Accuracy of ``model`` on pen digits: overall, per class, per style and per writer (the `worst` ones), and
    its `worst` commonest mistakes."""
    predicted = model.predict_proba(inputs.x).argmax(axis=1)
    correct = predicted == inputs.labels
    per_style = {}
    for name in STYLES:
        inside = inputs.styles == name
        if inside.any():
            per_style[name] = {"n": int(inside.sum()), "accuracy": float(correct[inside].mean())}
    wrong = ~correct
    pairs = np.bincount(inputs.labels[wrong] * 10 + predicted[wrong], minlength=100).reshape(10, 10)
    top = np.argsort(-pairs, axis=None, kind="stable")[:worst]
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
        # The commonest mistakes, as (true digit, read as, drawings), and the two of flagged ones and crossed sevens.
        "confusions": [[int(i // 10), int(i % 10), int(pairs.flat[i])] for i in top if pairs.flat[i]],
        "ones_read_as_7": int(pairs[1, 7]),
        "sevens_read_as_1": int(pairs[7, 1]),
        "per_writer": {
            "writers": int(len(ids)),
            "median": float(np.median(acc)),
            "below_90": int((acc < 0.9).sum()),
            "worst": [{"writer": int(ids[j]), "n": int((inputs.writers == ids[j]).sum()), "accuracy": float(acc[j])}
                      for j in order],
        },
    }
