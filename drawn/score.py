"""Score a model on pen-drawn canvases through the whole drawing pipeline.

    result = evaluate_drawn(model)            # 2,000 drawings, seed 0
    result["accuracy"]                        # next to the MNIST test accuracy

Each canvas from ``drawn.generate`` (strokes redrawn from MNIST *test* digits, so
never from training data) goes through ``preprocess`` exactly as a drawing on
the Draw page does, then through the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlp.preprocess import FIELD_SIZE, PREPROCESS_VERSION, preprocess

from .generate import BRUSH_RANGE, DRAWN_VERSION, HEIGHT_RANGE, iter_drawn_digits

if TYPE_CHECKING:
    from data import Dataset
    from mlp.network import MLP

__all__ = ["BRUSH_BUCKETS", "HEIGHT_BUCKETS", "DrawnInputs", "drawn_inputs", "evaluate_drawn", "score_drawn"]

#: Bucket edges (canvas px) for the breakdowns; each bucket is [low, high).
BRUSH_BUCKETS = (BRUSH_RANGE[0], 13, 18, 24, BRUSH_RANGE[1] + 1)
HEIGHT_BUCKETS = (HEIGHT_RANGE[0], 110, 160, 210, HEIGHT_RANGE[1] + 1)


@dataclass(eq=False)
class DrawnInputs:
    """Preprocessed drawings and what made them.

    x: (n, 784) float32 (zeros where preprocess saw nothing); labels, brush,
    height: (n,) int64; preprocess_options: the keyword arguments used.
    """

    x: np.ndarray
    labels: np.ndarray
    brush: np.ndarray
    height: np.ndarray
    n: int
    seed: int
    preprocess_options: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"DrawnInputs(n={self.n}, seed={self.seed}, preprocess_options={self.preprocess_options})"


def drawn_inputs(
    n: int = 2000, seed: int = 0, *, dataset: Dataset | None = None, **preprocess_options: Any,
) -> DrawnInputs:
    """Generate n drawings from MNIST's test digits and preprocess each one.

    ``dataset`` is a loaded ``data.Dataset`` (MNIST); by default it is loaded
    with ``data.load_dataset("mnist")``. Extra keyword arguments go to
    ``preprocess``. Only the 28x28 inputs are kept, so memory stays small.
    """
    if dataset is None:
        from data import load_dataset

        dataset = load_dataset("mnist")
    x = np.zeros((n, FIELD_SIZE * FIELD_SIZE), dtype=np.float32)
    labels = np.empty(n, dtype=np.int64)
    brush, height = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    for i, d in enumerate(iter_drawn_digits(n, seed, dataset.x_test, dataset.y_test)):
        x28 = preprocess(d.canvas, **preprocess_options)
        if x28 is not None:  # never for these canvases; a blank stays zeros and counts as wrong
            x[i] = x28.ravel()
        labels[i], brush[i], height[i] = d.label, d.brush, d.height
    return DrawnInputs(x, labels, brush, height, n, seed, preprocess_options)


def score_drawn(model: MLP, inputs: DrawnInputs) -> dict[str, Any]:
    """Accuracy of ``model`` on preprocessed drawings: overall, per class, by brush and by height."""
    predicted = model.predict_proba(inputs.x).argmax(axis=1)
    correct = predicted == inputs.labels
    return {
        "n": int(inputs.n),
        "seed": int(inputs.seed),
        "generator_version": DRAWN_VERSION,
        "preprocess_version": PREPROCESS_VERSION,
        "accuracy": float(correct.mean()),
        "per_class_accuracy": [float(correct[inputs.labels == c].mean()) for c in range(10)],
        "by_brush": _by_bucket(correct, inputs.brush, BRUSH_BUCKETS),
        "by_height": _by_bucket(correct, inputs.height, HEIGHT_BUCKETS),
    }


def evaluate_drawn(model: MLP, n: int = 2000, seed: int = 0, *, dataset: Dataset | None = None) -> dict[str, Any]:
    """Generate, preprocess and score n drawings (seeded); see score_drawn for the keys.

    Takes ~15 s for 2,000 drawings. To score several models on the same
    drawings, call drawn_inputs once and score_drawn per model.
    """
    return score_drawn(model, drawn_inputs(n, seed, dataset=dataset))


def _by_bucket(correct: NDArray[np.bool_], values: NDArray[Any],
               edges: Sequence[int]) -> dict[str, dict[str, Any]]:
    """{"low-high": {"n": count, "accuracy": fraction}} for consecutive [low, high) buckets.

    Values outside the edges (a flat digit can be shorter than the height
    range) count in the nearest bucket, so the counts always add up to n.
    """
    values = np.clip(values, edges[0], edges[-1] - 1)
    out: dict[str, dict[str, Any]] = {}
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (values >= low) & (values < high)
        count = int(inside.sum())
        out[f"{low}-{high - 1}"] = {"n": count, "accuracy": float(correct[inside].mean()) if count else None}
    return out
