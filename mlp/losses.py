"""Softmax with cross-entropy, fused: the only output the network needs.

A label of NOT_A_CLASS (-1) marks an input that belongs to no class (a letter or a scribble drawn
instead of a digit): its target is the uniform distribution, so training teaches the network to
spread its belief over every class for such inputs instead of picking one ("outlier exposure",
Hendrycks et al. 2019). The top probability then says how sure the network is.
"""

import numpy as np
from numpy.typing import ArrayLike

from .arrays import Floats, Ints

#: The label of a training input that is none of the classes.
NOT_A_CLASS = -1


def row_max(a: Floats) -> Floats:
    """(n, k) -> (n,) maximum of each row.

    NumPy reduces along short rows slowly; reducing a transposed copy along its
    first axis gives the same numbers about five times faster for k = 10.
    """
    maxima: Floats = np.ascontiguousarray(a.T).max(axis=0)
    return maxima


def softmax(logits: Floats) -> Floats:
    """Row-wise softmax of (n, k) logits into a new array; subtracts the row max so exp never overflows."""
    z = np.subtract(logits, row_max(logits)[:, None])
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def softmax_cross_entropy(logits: Floats, labels: ArrayLike) -> tuple[float, Floats, Floats]:
    """Mean cross-entropy of softmax(logits) against integer labels.

    logits: (n, k) float; labels: (n,) int in [0, k), or NOT_A_CLASS for a row whose target is
    uniform (1/k for every class).
    Returns (loss, probs, grad) where grad = (probs - target) / n is the
    gradient of the mean loss with respect to the logits (the fused form).
    """
    n, k = logits.shape
    probs = softmax(logits)
    labels = np.asarray(labels)
    grad = probs * probs.dtype.type(1 / n)
    eps = np.finfo(probs.dtype).eps
    outside = labels == NOT_A_CLASS
    if not outside.any():
        target = np.arange(n) * k + labels  # flat index of each row's true class
        loss = -float(np.log(np.maximum(probs.ravel()[target], eps)).sum()) / n
        grad.ravel()[target] -= probs.dtype.type(1 / n)
        return loss, probs, grad
    inside = np.flatnonzero(~outside)
    target = inside * k + labels[inside]
    loss = -float(np.log(np.maximum(probs.ravel()[target], eps)).sum())
    loss -= float(np.log(np.maximum(probs[outside], eps)).sum()) / k
    grad.ravel()[target] -= probs.dtype.type(1 / n)
    grad[outside] -= probs.dtype.type(1 / (n * k))
    return loss / n, probs, grad


def soft_cross_entropy(logits: Floats, targets: Floats) -> tuple[float, Floats, Floats]:
    """Mean cross-entropy of softmax(logits) against target distributions, fused as above.

    targets: (n, k) rows that each sum to 1 (a teacher's reading mixed with the label, when a
    network learns from others: see mlp.distil). Returns (loss, probs, grad), grad = (probs - targets) / n.
    """
    n = len(logits)
    probs = softmax(logits)
    eps = np.finfo(probs.dtype).eps
    loss = -float((targets * np.log(np.maximum(probs, eps))).sum()) / n
    grad = np.subtract(probs, targets, dtype=probs.dtype)
    grad *= probs.dtype.type(1 / n)
    return loss, probs, grad


def cross_entropy(probs: Floats, labels: Ints) -> float:
    """Mean cross-entropy of already-softmaxed (n, k) probabilities against integer labels."""
    eps = np.finfo(probs.dtype).eps
    return float(-np.log(np.maximum(probs[np.arange(len(labels)), labels], eps)).mean())
