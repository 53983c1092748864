"""Accuracy, per-class accuracy and confusion matrices."""

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .arrays import Floats, Ints
from .losses import cross_entropy


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> NDArray[np.int64]:
    """(n_classes, n_classes) int64 counts; rows are true labels, columns predictions."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


@dataclass(frozen=True)
class Evaluation:
    """What `MLP.evaluate` measures. per_class_accuracy is NaN for a class with no samples."""

    accuracy: float
    loss: float
    per_class_accuracy: Floats  # (k,)
    confusion_matrix: Ints  # (k, k), rows = true
    probabilities: Floats  # (n, k)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: accuracy, loss, per_class_accuracy (None for empty classes), confusion_matrix."""
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "per_class_accuracy": [None if np.isnan(a) else float(a) for a in self.per_class_accuracy],
            "confusion_matrix": self.confusion_matrix.tolist(),
        }


def evaluate_predictions(probs: Floats, labels: ArrayLike, n_classes: int) -> Evaluation:
    """Build an Evaluation from (n, k) probabilities and (n,) integer labels."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(probs):
        raise ValueError(f"{len(probs)} predictions but {len(labels)} labels")
    if len(labels) == 0:
        raise ValueError("cannot evaluate on zero samples")
    pred = probs.argmax(axis=1)
    cm = confusion_matrix(labels, pred, n_classes)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.diag(cm) / support
    return Evaluation(
        accuracy=float((pred == labels).mean()),
        loss=cross_entropy(probs, labels),
        per_class_accuracy=per_class,
        confusion_matrix=cm,
        probabilities=probs,
    )
