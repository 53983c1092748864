"""Calibration: does a model's confidence match how often it is right?

    rel = reliability(model.predict_proba(x), labels)   # 15 equal-width bins on the top probability
    rel.ece, rel.mce                                    # expected and maximum calibration error

A sample goes to the bin of its top probability (its confidence); bin i holds confidences in
(edges[i], edges[i + 1]], the first also 0. Per bin: how many samples, their mean confidence and
the fraction read correctly. The expected calibration error (Guo et al., 2017) is the mean
|accuracy - confidence| over bins, weighted by how many samples each holds.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .arrays import Floats

__all__ = ["Reliability", "describe", "reliability"]

WELL_CALIBRATED = 0.005  # |mean confidence - accuracy| under half a point reads as "well calibrated"


@dataclass(frozen=True)
class Reliability:
    """Per-bin and overall calibration of n predictions. Empty bins have NaN confidence and accuracy."""

    edges: Floats  # (n_bins + 1,) bin edges, 0 to 1
    count: NDArray[np.int64]  # (n_bins,) int64 samples per bin
    confidence: Floats  # (n_bins,) mean top probability per bin
    accuracy: Floats  # (n_bins,) fraction read correctly per bin
    ece: float  # sum over bins of |accuracy - confidence| * count / n
    mce: float  # max over non-empty bins of |accuracy - confidence|
    mean_confidence: float  # mean top probability over all samples
    overall_accuracy: float  # fraction of all samples read correctly
    n: int

    @property
    def n_bins(self) -> int:
        return len(self.count)

    @property
    def gap(self) -> float:
        """mean_confidence - overall_accuracy: positive when over-confident, negative when under-confident."""
        return self.mean_confidence - self.overall_accuracy

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the figures and, per non-empty bin, its range, count, confidence and accuracy."""
        bins = [{"low": float(self.edges[i]), "high": float(self.edges[i + 1]), "count": int(self.count[i]),
                 "confidence": float(self.confidence[i]), "accuracy": float(self.accuracy[i])}
                for i in np.flatnonzero(self.count)]
        return {"n": self.n, "ece": self.ece, "mce": self.mce, "mean_confidence": self.mean_confidence,
                "accuracy": self.overall_accuracy, "bins": bins}


def reliability(probs: ArrayLike, labels: ArrayLike, n_bins: int = 15) -> Reliability:
    """Reliability of (n, k) class probabilities against (n,) integer labels in n_bins equal-width bins.

    Raises ValueError naming the problem: shapes that do not match, probabilities outside [0, 1] or
    rows not summing to 1, labels that are not integers in 0..k-1, n_bins not a positive integer.
    """
    probs, labels = _check(probs, labels, n_bins)
    n = len(labels)
    conf = probs.max(axis=1)  # (n,)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)  # (n,)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # side="left" on the inner edges: a confidence equal to an edge belongs to the bin below it.
    which = np.searchsorted(edges[1:-1], conf, side="left")  # (n,) in 0..n_bins-1
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=conf, minlength=n_bins) / count
        acc = np.bincount(which, weights=correct, minlength=n_bins) / count
    gaps = np.abs(acc - mean_conf)
    filled = count > 0
    return Reliability(
        edges=edges, count=count.astype(np.int64), confidence=mean_conf, accuracy=acc,
        ece=float((gaps[filled] * count[filled]).sum() / n), mce=float(gaps[filled].max()),
        mean_confidence=float(conf.mean()), overall_accuracy=float(correct.mean()), n=n,
    )


def describe(rel: Reliability) -> str:
    """One plain-language sentence: over-confident, under-confident or well calibrated, with the figures."""
    said, right = f"{rel.mean_confidence:.1%}", f"{rel.overall_accuracy:.1%}"
    points = abs(rel.gap) * 100
    if abs(rel.gap) < WELL_CALIBRATED:
        return (f"Well calibrated overall: on average it is {said} sure and right {right} of the time "
                f"(expected calibration error {rel.ece:.2%}).")
    kind, how = ("Over-confident", "more sure than it is right") if rel.gap > 0 else \
        ("Under-confident", "less sure than it is right")
    return (f"{kind}: on average it is {said} sure but right {right} of the time, {points:.1f} points "
            f"{how} (expected calibration error {rel.ece:.2%}).")


def _check(probs: ArrayLike, labels: ArrayLike, n_bins: int) -> tuple[Floats, NDArray[np.int64]]:
    """Validated (probs float (n, k), labels int64 (n,)); ValueError naming the first problem."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] == 0:
        raise ValueError(f"probabilities must be a non-empty (n, classes) array, got shape {probs.shape}")
    if not np.issubdtype(probs.dtype, np.floating):
        if not np.issubdtype(probs.dtype, np.number) or np.issubdtype(probs.dtype, np.complexfloating):
            raise ValueError(f"probabilities must be real numbers, got dtype {probs.dtype}")
        probs = probs.astype(np.float64)
    if not np.isfinite(probs).all():
        raise ValueError("probabilities must be finite, got NaN or infinity")
    low, high = float(probs.min()), float(probs.max())
    if low < 0 or high > 1:
        raise ValueError(f"probabilities must lie in [0, 1], got values from {low:g} to {high:g}")
    tol = max(1e-3, 8 * float(np.finfo(probs.dtype).eps))
    sums = probs.sum(axis=1, dtype=np.float64)
    bad = np.flatnonzero(np.abs(sums - 1) > tol)
    if len(bad):
        raise ValueError(f"each row of probabilities must sum to 1, row {bad[0]} sums to {sums[bad[0]]:.6g}")
    labels = np.asarray(labels)
    if labels.shape != (len(probs),):
        raise ValueError(f"labels must have shape ({len(probs)},) to match the probabilities, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    k = probs.shape[1]
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"labels must lie in 0..{k - 1}, got values from {labels.min()} to {labels.max()}")
    return probs, labels.astype(np.int64)
