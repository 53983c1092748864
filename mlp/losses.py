"""Softmax with cross-entropy, fused: the only output the network needs."""

import numpy as np


def row_max(a):
    """(n, k) -> (n,) maximum of each row.

    NumPy reduces along short rows slowly; reducing a transposed copy along its
    first axis gives the same numbers about five times faster for k = 10.
    """
    return np.ascontiguousarray(a.T).max(axis=0)


def softmax(logits):
    """Row-wise softmax of (n, k) logits into a new array; subtracts the row max so exp never overflows."""
    z = np.subtract(logits, row_max(logits)[:, None])
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) against integer labels.

    logits: (n, k) float; labels: (n,) int in [0, k).
    Returns (loss, probs, grad) where grad = (probs - onehot) / n is the
    gradient of the mean loss with respect to the logits (the fused form).
    """
    n, k = logits.shape
    probs = softmax(logits)
    target = np.arange(n) * k + np.asarray(labels)  # flat index of each row's true class
    eps = np.finfo(probs.dtype).eps
    loss = -float(np.log(np.maximum(probs.ravel()[target], eps)).sum()) / n
    grad = probs * probs.dtype.type(1 / n)
    grad.ravel()[target] -= probs.dtype.type(1 / n)
    return loss, probs, grad


def cross_entropy(probs, labels):
    """Mean cross-entropy of already-softmaxed (n, k) probabilities against integer labels."""
    eps = np.finfo(probs.dtype).eps
    return float(-np.log(np.maximum(probs[np.arange(len(labels)), labels], eps)).mean())
