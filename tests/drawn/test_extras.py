"""drawn.extras: generated drawings in training, the unsure threshold, the handwriting report."""

import numpy as np
import pytest

from drawn.extras import calibrate_unsure, handwriting_report, training_extras
from mlp import MLP, TrainConfig
from mlp.losses import NOT_A_CLASS
from mlp.training import rows_used
from mlp.unsure import flagged, threshold_of


@pytest.fixture(scope="module")
def rows(mnist):
    return rows_used(TrainConfig(val_fraction=0.1, seed=0), len(mnist.x_train))


def test_training_extras_are_styled_digits_then_inputs_of_no_class(mnist, rows):
    x, y = training_extras(mnist, rows[0], styles=20, negatives=12, seed=0)
    assert x.shape == (32, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert set(y[:20]) == set(range(10)) and (y[20:] == NOT_A_CLASS).all()
    assert (x.reshape(32, -1).max(axis=1) > 200).all()  # every drawing has ink
    again = training_extras(mnist, rows[0], styles=20, negatives=12, seed=0)
    assert np.array_equal(x, again[0]) and np.array_equal(y, again[1])
    by_writers = training_extras(mnist, rows[0], styles=0, writers=25, negatives=0, seed=0)
    assert by_writers[0].shape == (25, 28, 28) and by_writers[1].tolist() == [*range(10), *range(10), *range(5)]
    assert not np.array_equal(by_writers[0][:10], by_writers[0][10:20])  # a writer's second drawing of each digit
    empty = training_extras(mnist, rows[0], styles=0, negatives=0, seed=0)
    assert empty[0].shape == (0, 28, 28) and empty[1].shape == (0,)


def test_calibration_flags_the_asked_share_of_validation_drawings(mnist, rows):
    model = MLP([784, 32, 10], seed=1)
    threshold = calibrate_unsure(model, mnist, rows[1], seed=0, n=200, flag_rate=0.1)
    assert threshold_of(model) == threshold and model.meta["unsure"]["target_flag_rate"] == 0.1
    with pytest.raises(ValueError, match="needs validation rows"):
        calibrate_unsure(model, mnist, np.arange(0), seed=0)


def test_the_report_counts_digits_and_letters(mnist):
    model = MLP([784, 32, 10], seed=1)
    model.meta["unsure"] = {"threshold": 1.0}  # doubts everything
    report = handwriting_report(model, dataset=mnist, n_digits=50, n_letters=38)
    doubt = report["unsure"]
    assert report["n"] == 50 and 0 <= report["accuracy"] <= 1 and len(report["per_class_accuracy"]) == 10
    assert doubt["digits_flagged"] == 1.0 and doubt["letters_flagged"] == 1.0
    assert doubt["n_letters"] < 38 and set(doubt["per_letter_flagged"]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    model.meta["unsure"] = {"threshold": 0.0}  # doubts nothing
    assert handwriting_report(model, dataset=mnist, n_digits=50, n_letters=38)["unsure"]["letters_flagged"] == 0.0
    assert not flagged(np.full((1, 10), 0.1), 0.0).any()
