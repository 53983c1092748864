"""Softmax with cross-entropy, fused: the only output the network needs."""

import numpy as np


def softmax(logits):
    """Row-wise softmax of (n, k) logits; subtracts the row max so exp never overflows."""
    z = logits - logits.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) against integer labels.

    logits: (n, k) float; labels: (n,) int in [0, k).
    Returns (loss, probs, grad) where grad = (probs - onehot) / n is the
    gradient of the mean loss with respect to the logits (the fused form).
    """
    n = logits.shape[0]
    probs = softmax(logits)
    rows = np.arange(n)
    eps = np.finfo(probs.dtype).eps
    picked = probs[rows, labels]
    loss = float(-np.log(np.maximum(picked, eps)).mean())
    grad = probs.copy()
    grad[rows, labels] -= 1
    grad /= n
    return loss, probs, grad


def cross_entropy(probs, labels):
    """Mean cross-entropy of already-softmaxed (n, k) probabilities against integer labels."""
    eps = np.finfo(probs.dtype).eps
    return float(-np.log(np.maximum(probs[np.arange(len(labels)), labels], eps)).mean())
