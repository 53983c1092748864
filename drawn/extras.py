"""Generated drawings in training: styled digits and inputs that are no digit, the unsure threshold, the report.

    extra = training_extras(dataset, train_rows, styles=20_000, negatives=15_000, seed=0)
    trainer = Trainer(model, config, dataset.x_train, dataset.y_train, extra=extra)
    ...
    calibrate_unsure(model, dataset, val_rows, seed=0)     # model.meta["unsure"]["threshold"]
    report = handwriting_report(model, dataset=dataset)    # per style, per digit, unsure rates

Styled digits are pen drawings of MNIST *training* rows (never the validation rows, which the
threshold is calibrated on, nor the test split, which the report is measured on); inputs that
are no digit are drawn from the training fonts and get the NOT_A_CLASS label (mlp.losses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mlp.losses import NOT_A_CLASS
from mlp.network import MLP
from mlp.training import to_inputs
from mlp.unsure import calibrate, flagged, stamp_unsure, threshold_of

from .negatives import DIGIT_LIKE_LETTERS, negative_images
from .styles import make_writer, pen_digit_inputs, score_styles, styled_images, writer_images

if TYPE_CHECKING:
    from data import Dataset
    from mlp.network import MLP

__all__ = ["CALIBRATION_DRAWINGS", "FLAG_RATE", "PER_WRITER", "TRAINING_WRITERS_FROM", "calibrate_unsure",
           "handwriting_report", "training_extras"]

#: Pen drawings of validation digits the unsure threshold is calibrated on, and the share of them it flags.
CALIBRATION_DRAWINGS = 3000
FLAG_RATE = 0.015


#: Training writers' ids start here, far from the held-out set's (drawn from 32-bit seeds).
TRAINING_WRITERS_FROM = 2**40
#: Drawings of each digit per training writer.
PER_WRITER = 2


def training_extras(dataset: Dataset, train_rows: NDArray[Any], *, styles: int, negatives: int, seed: int,
                    writers: int = 0) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """(x (m, 28, 28) uint8, y (m,) int64): `styles` styled pen digits, `writers` pen digits by simulated
    writers (wider habits of slant, rotation, size and pen than one drawing's random hand, each keeping
    them), and `negatives` inputs of no class."""
    xs, ys = [np.empty((0, 28, 28), np.uint8)], [np.empty(0, np.int64)]
    sources = dataset.x_train[train_rows], dataset.y_train[train_rows]
    if styles:
        images, labels, _ = styled_images(styles, seed, *sources)
        xs.append(images)
        ys.append(np.asarray(labels, np.int64))
    for i in range(-(-writers // (10 * PER_WRITER))):
        writer = make_writer(TRAINING_WRITERS_FROM + seed * 10**6 + i)
        images, labels = writer_images(writer, PER_WRITER, seed, *sources)
        keep = min(len(images), writers - 10 * PER_WRITER * i)
        xs.append(images[:keep])
        ys.append(np.asarray(labels[:keep], np.int64))
    if negatives:
        images, _, _ = negative_images(negatives, seed, split="train")
        xs.append(images)
        ys.append(np.full(len(images), NOT_A_CLASS, np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def calibrate_unsure(model: MLP, dataset: Dataset, val_rows: NDArray[Any], *, seed: int, n: int = CALIBRATION_DRAWINGS,
                     flag_rate: float = FLAG_RATE) -> float:
    """Set the model's unsure threshold so it flags `flag_rate` of pen drawings of validation digits."""
    if not len(val_rows):
        raise ValueError("calibrating the unsure threshold needs validation rows (--val-fraction > 0)")
    images, labels, _ = styled_images(n, seed, dataset.x_train[val_rows], dataset.y_train[val_rows])
    probs = model.predict_proba(to_inputs(images, model.dtype))
    threshold = calibrate(probs, flag_rate)
    stamp_unsure(model, threshold, calibrated_on=f"{n} pen drawings of validation digits (seed {seed})",
                 target_flag_rate=flag_rate)
    return threshold


def handwriting_report(model: MLP, *, dataset: Dataset | None = None, n_digits: int = 5000, n_letters: int = 2000,
                       seed: int = 0) -> dict[str, Any]:
    """How the model reads held-out pen digits (per style, digit and writer) and how often it doubts.

    unsure: the share of those digits flagged unsure, and of held-out capital letters that look
    like no digit (all but DIGIT_LIKE_LETTERS, drawn from the evaluation fonts) flagged unsure.
    """
    threshold = threshold_of(model)
    digits = pen_digit_inputs(n_digits, seed, dataset=dataset)
    report = score_styles(model, digits)
    digit_flags = flagged(model.predict_proba(digits.x), threshold)
    letters, _, chars = negative_images(n_letters, seed, split="eval", kinds=("letters",))
    letter_flags = flagged(model.predict_proba(to_inputs(letters, model.dtype)), threshold)
    unlike = ~np.isin(chars, list(DIGIT_LIKE_LETTERS))
    report["unsure"] = {
        "threshold": threshold,
        "digits_flagged": float(digit_flags.mean()),
        "letters_flagged": float(letter_flags[unlike].mean()),
        "digit_like_letters_flagged": float(letter_flags[~unlike].mean()) if (~unlike).any() else None,
        "per_letter_flagged": {c: float(letter_flags[chars == c].mean()) for c in sorted(set(chars.tolist()))},
        "n_letters": int(unlike.sum()),
    }
    return report
