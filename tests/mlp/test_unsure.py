"""Saying when unsure: the verdict on a reading, calibration, training on inputs of no class."""

import numpy as np
import pytest

from mlp import MLP, TrainConfig, Trainer
from mlp.config import ConfigError
from mlp.losses import NOT_A_CLASS
from mlp.unsure import (
    AMBIGUOUS,
    DEFAULT_THRESHOLD,
    NO_CLASS,
    SURE,
    calibrate,
    flagged,
    judge,
    stamp_unsure,
    threshold_of,
)

DIGITS = [str(d) for d in range(10)]


def probs_with(**at):
    """Ten probabilities: the given ones (keys d0..d9), the rest shared evenly."""
    p = np.zeros(10)
    for key, value in at.items():
        p[int(key[1:])] = value
    rest = [i for i in range(10) if f"d{i}" not in at]
    p[rest] = (1 - p.sum()) / len(rest)
    return p


@pytest.mark.parametrize(
    "probs, kind, message",
    [
        (probs_with(d7=0.97), SURE, None),
        (probs_with(d4=0.48, d9=0.45), AMBIGUOUS, "Not sure: 4 or 9?"),
        (probs_with(d9=0.49, d4=0.44), AMBIGUOUS, "Not sure: 9 or 4?"),
        (probs_with(d1=0.3, d7=0.2), NO_CLASS, "That doesn't look like a digit"),
        (np.full(10, 0.1), NO_CLASS, "That doesn't look like a digit"),
        # Two classes hold the belief but the second barely: not a two-way doubt.
        (probs_with(d3=0.78, d5=0.1), NO_CLASS, "That doesn't look like a digit"),
    ],
)
def test_verdicts(probs, kind, message):
    verdict = judge(probs, threshold=0.8)
    assert verdict.kind == kind and verdict.unsure == (kind != SURE)
    assert verdict.best == int(np.argmax(probs))  # the best digit is always given
    assert verdict.message(DIGITS) == message


def test_the_noun_follows_the_dataset():
    assert judge(np.full(10, 0.1), 0.5).message(DIGITS, noun="class") == "That doesn't look like a class"


def test_calibration_flags_the_asked_fraction():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((10_000, 10)) * 4
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    threshold = calibrate(probs, flag_rate=0.02)
    assert flagged(probs, threshold).mean() == pytest.approx(0.02, abs=0.001)
    assert flagged(probs, calibrate(probs, 0.0)).sum() == 0


@pytest.mark.parametrize("flag_rate", [-0.1, 1.0, float("nan")])
def test_calibration_rejects_nonsense_rates(flag_rate):
    with pytest.raises(ValueError, match="flag_rate must be in"):
        calibrate(np.full((3, 10), 0.1), flag_rate)


def test_threshold_comes_from_the_metadata_or_the_default():
    model = MLP([4, 3])
    assert threshold_of(model) == DEFAULT_THRESHOLD
    stamp_unsure(model, 0.93, flag_rate_digits=0.015)
    assert threshold_of(model) == 0.93 and model.meta["unsure"]["flag_rate_digits"] == 0.015
    for hostile in ({"threshold": "high"}, {"threshold": 7}, {"threshold": True}, "0.9", None):
        model.meta["unsure"] = hostile
        assert threshold_of(model) == DEFAULT_THRESHOLD


def test_training_on_inputs_of_no_class_lowers_confidence_on_them():
    """Two blobs are the classes; a third blob, labelled NOT_A_CLASS, ends with a near-uniform reading."""
    rng = np.random.default_rng(1)
    centres = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 4.0]])
    x = np.concatenate([c + rng.standard_normal((300, 2)) * 0.5 for c in centres]).astype(np.float32)
    y = np.repeat([0, 1, NOT_A_CLASS], 300)
    config = TrainConfig(hidden=(16,), epochs=30, lr=0.01, batch_size=32, val_fraction=0, seed=0)
    plain, taught = MLP([2, 16, 2], seed=0), MLP([2, 16, 2], seed=0)
    list(Trainer(plain, config, x[:600], y[:600]).run())
    list(Trainer(taught, config, x[:600], y[:600], extra=(x[600:], y[600:])).run())
    third = x[600:]
    assert taught.predict_proba(third).max(axis=1).mean() < 0.7 < plain.predict_proba(third).max(axis=1).mean()
    assert (taught.predict(x[:600]) == y[:600]).mean() > 0.98


def test_extra_inputs_train_but_never_validate():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (200, 784), dtype=np.uint8)
    y = rng.integers(0, 10, 200)
    extra = (rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), np.full(50, NOT_A_CLASS))
    trainer = Trainer(MLP([784, 8, 10]), TrainConfig(hidden=(8,), epochs=1, val_fraction=0.1), x, y, extra=extra)
    assert len(trainer.val_idx) == 20 and trainer.val_idx.max() < 200
    assert len(trainer.train_idx) == 230 and set(trainer.train_idx) >= set(range(200, 250))
    record = next(iter(trainer.run()))
    assert 0 <= record.train_accuracy <= 1


@pytest.mark.parametrize(
    "extra, message",
    [
        ((np.zeros((3, 784), np.uint8), np.zeros(2)), "extra: 3 inputs but 2 labels"),
        ((np.zeros((3, 785), np.uint8), np.zeros(3)), "extra inputs must be uint8 rows of 784 values"),
        ((np.zeros((3, 784), np.float32), np.zeros(3)), "extra inputs must be uint8 rows of 784 values"),
        ((np.zeros((3, 784), np.uint8), np.array([0, 10, 1])), "extra labels must be in 0..9 or -1"),
        ((np.zeros((3, 784), np.uint8), np.array([0, -2, 1])), "extra labels must be in 0..9 or -1"),
    ],
)
def test_bad_extra_inputs_are_named(extra, message):
    x, y = np.zeros((20, 784), np.uint8), np.zeros(20, int)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        Trainer(MLP([784, 8, 10]), TrainConfig(hidden=(8,), batch_size=4, val_fraction=0), x, y, extra=extra)
