"""One hand-worked step of each optimizer, and the learning-rate schedules."""

import math

import numpy as np
import pytest

from mlp.optimizers import SCHEDULES, SGD, Adam, make_optimizer


def params(w, g, is_weight=True):
    return [(np.array(w, dtype=np.float64), np.array(g, dtype=np.float64), is_weight)]


def test_sgd_step():
    ps = params([1.0, -2.0], [0.5, 0.25])
    SGD(ps).step(0.1)
    assert ps[0][0].tolist() == pytest.approx([0.95, -2.025])


def test_sgd_weight_decay_applies_to_weights_not_biases():
    w = params([1.0], [0.0], is_weight=True)
    b = params([1.0], [0.0], is_weight=False)
    SGD(w + b, weight_decay=0.5).step(0.1)
    assert w[0][0][0] == pytest.approx(1 - 0.1 * 0.5)
    assert b[0][0][0] == 1.0


def test_momentum_two_steps():
    ps = params([1.0], [1.0])
    opt = SGD(ps, momentum=0.9)
    opt.step(0.1)  # v = 1, p = 1 - 0.1
    assert ps[0][0][0] == pytest.approx(0.9)
    ps[0][1][:] = 1.0
    opt.step(0.1)  # v = 0.9 * 1 + 1 = 1.9, p = 0.9 - 0.19
    assert ps[0][0][0] == pytest.approx(0.71)


def test_nesterov_two_steps():
    ps = params([1.0], [1.0])
    opt = SGD(ps, momentum=0.9, nesterov=True)
    opt.step(0.1)  # v = 1, step = g + 0.9 v = 1.9
    assert ps[0][0][0] == pytest.approx(1 - 0.19)
    ps[0][1][:] = 1.0
    opt.step(0.1)  # v = 1.9, step = 1 + 0.9 * 1.9 = 2.71
    assert ps[0][0][0] == pytest.approx(0.81 - 0.271)


def test_adam_first_steps():
    ps = params([1.0, 1.0], [0.5, -2.0])
    opt = Adam(ps, eps=1e-8)
    opt.step(0.01)
    # After one step bias-corrected m/sqrt(v) = g/|g|: every weight moves by lr against its gradient.
    assert ps[0][0].tolist() == pytest.approx([0.99, 1.01], abs=1e-7)
    ps[0][1][:] = [0.5, 1.0]
    opt.step(0.01)
    b1, b2 = 0.9, 0.999
    for g1, g2, start in ((0.5, 0.5, 0.99), (-2.0, 1.0, 1.01)):
        m = (1 - b1) * (b1 * g1 + g2) / (1 - b1**2)
        v = (1 - b2) * (b2 * g1**2 + g2**2) / (1 - b2**2)
        expected = start - 0.01 * m / (math.sqrt(v) + 1e-8)
        assert ps[0][0][[0.5, -2.0].index(g1)] == pytest.approx(expected, rel=1e-6)


def test_make_optimizer_names():
    ps = params([1.0], [1.0])
    assert isinstance(make_optimizer("adam", ps), Adam)
    assert make_optimizer("nesterov", ps).nesterov
    assert make_optimizer("momentum", ps).momentum == 0.9
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        make_optimizer("rmsprop", ps)


def test_schedules():
    assert SCHEDULES["constant"](0.1, 7, 10) == 0.1
    assert SCHEDULES["step"](0.1, 9, 30, step_size=10, gamma=0.5) == pytest.approx(0.1)
    assert SCHEDULES["step"](0.1, 10, 30, step_size=10, gamma=0.5) == pytest.approx(0.05)
    assert SCHEDULES["step"](0.1, 25, 30, step_size=10, gamma=0.5) == pytest.approx(0.025)
    cos = [SCHEDULES["cosine"](0.1, e, 10) for e in range(10)]
    assert cos[0] == pytest.approx(0.1)
    assert cos[5] == pytest.approx(0.05)
    assert all(a > b for a, b in zip(cos, cos[1:]))
    assert SCHEDULES["cosine"](0.1, 10, 10, min_lr_fraction=0.1) == pytest.approx(0.01)
