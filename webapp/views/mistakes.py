"""Selecting and ordering a model's mistakes on the test set. Pure NumPy, no Streamlit."""

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

ANY = "any"  # a class filter that lets every class through
T = TypeVar("T")



def mistakes(probs: NDArray[np.floating[Any]], labels: ArrayLike, true: int | str | None = ANY,
             predicted: int | str | None = ANY, order: str = "confident") -> NDArray[np.intp]:
    """Indices of misclassified samples, filtered by true/predicted class (ANY or None: no filter), by confidence.

    probs: (n, k) probabilities; labels: (n,) true classes. order: "confident" puts the
    most confident mistakes first, "unsure" the least confident first.
    """
    labels = np.asarray(labels)
    pred = probs.argmax(axis=1)
    mask = pred != labels
    if true not in (ANY, None):
        mask &= labels == true
    if predicted not in (ANY, None):
        mask &= pred == predicted
    idx = np.flatnonzero(mask)
    confidence = probs[idx, pred[idx]]
    # A stable sort keeps equal confidences in test-set order, so pages are reproducible.
    ranking = np.argsort(-confidence if order == "confident" else confidence, kind="stable")
    return idx[ranking]


def page_of(items: Sequence[T], page: int, per_page: int) -> tuple[Sequence[T], int, int]:
    """(items on 1-based `page`, clamped page number, number of pages)."""
    pages = max(1, -(-len(items) // per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    return items[start:start + per_page], page, pages
