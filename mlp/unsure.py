"""Say when unsure: a reading is flagged when the network's top probability is below a threshold.

    verdict = judge(probs, threshold_of(model))
    verdict.unsure, verdict.kind, verdict.message(class_names)   # "Not sure: 4 or 9?"

The network is trained to spread its belief evenly over the classes for inputs that are no class
(letters, scribbles and shapes with the NOT_A_CLASS label, see mlp.losses), so its top probability
is low for them. The threshold is calibrated after training on held-out drawings of digits
(`calibrate`: the top-probability quantile that flags a chosen fraction of them) and saved in
the model's metadata under "unsure"; a model without one uses DEFAULT_THRESHOLD.

A flagged reading is *ambiguous* when nearly all the belief sits on two classes ("Not sure: 4 or
9?"), and *not a digit* otherwise ("That doesn't look like a digit"). The best class is always
still given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .arrays import Bools
from .network import MLP

__all__ = ["DEFAULT_THRESHOLD", "Verdict", "calibrate", "flagged", "judge", "stamp_unsure", "threshold_of"]

#: The threshold for models whose metadata carries none (trained before calibration existed).
DEFAULT_THRESHOLD = 0.5
#: A flagged reading whose top two classes hold at least this much belief, the second at least
#: SECOND_SHARE of it, is "one of these two"; otherwise it is "none of them".
TWO_WAY_MASS = 0.8
SECOND_SHARE = 0.2
SURE, AMBIGUOUS, NO_CLASS = "sure", "ambiguous", "no class"


@dataclass(frozen=True)
class Verdict:
    """How one reading should be told: the best class, whether to doubt it, and why."""

    best: int
    confidence: float
    unsure: bool
    kind: str  # SURE, AMBIGUOUS or NO_CLASS
    candidates: tuple[int, ...]  # the two classes of an ambiguous reading, best first

    def message(self, class_names: Sequence[str], noun: str = "digit") -> str | None:
        """The words for an unsure reading ("Not sure: 4 or 9?"), or None when the reading is sure."""
        if self.kind == AMBIGUOUS:
            a, b = (class_names[c] for c in self.candidates)
            return f"Not sure: {a} or {b}?"
        if self.kind == NO_CLASS:
            return f"That doesn't look like a {noun}"
        return None


def threshold_of(model: MLP) -> float:
    """The model's calibrated threshold, or DEFAULT_THRESHOLD for a model without one."""
    record = model.meta.get("unsure")
    threshold = record.get("threshold") if isinstance(record, dict) else None
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and 0 <= threshold <= 1:
        return float(threshold)
    return DEFAULT_THRESHOLD


def flagged(probs: ArrayLike, threshold: float) -> Bools:
    """(n,) bool: which rows of (n, k) probabilities are unsure."""
    unsure: Bools = np.asarray(probs).max(axis=1) < threshold
    return unsure


def judge(probs: ArrayLike, threshold: float) -> Verdict:
    """The verdict on one reading: (k,) probabilities."""
    probs = np.asarray(probs, dtype=np.float64).ravel()
    order = np.argsort(-probs, kind="stable")  # ties go to the first class, as with argmax
    best, second = int(order[0]), int(order[1])
    top = float(probs[best])
    if top >= threshold:
        return Verdict(best, top, False, SURE, ())
    pair = top + float(probs[second])
    if pair >= TWO_WAY_MASS and probs[second] >= SECOND_SHARE * pair:
        return Verdict(best, top, True, AMBIGUOUS, (best, second))
    return Verdict(best, top, True, NO_CLASS, ())


def calibrate(probs: ArrayLike, flag_rate: float = 0.015) -> float:
    """The threshold that flags `flag_rate` of these readings of held-out digits, (n, k) probabilities."""
    if not 0 <= flag_rate < 1:
        raise ValueError(f"flag_rate must be in [0, 1), got {flag_rate!r}")
    top = np.asarray(probs).max(axis=1)
    if not len(top):
        raise ValueError("cannot calibrate on zero readings")
    return float(np.quantile(top, flag_rate, method="lower"))


def stamp_unsure(model: MLP, threshold: float, **figures: Any) -> MLP:
    """Record the threshold and what was measured with it (flag rates, sets used) in model.meta["unsure"]."""
    model.meta["unsure"] = {"method": "top probability below threshold", "threshold": float(threshold), **figures}
    return model
