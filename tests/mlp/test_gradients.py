"""Finite-difference checks of every backward pass, in float64."""

import numpy as np
import pytest

from mlp.activations import ACTIVATIONS
from mlp.layers import Activation, Dense, Dropout
from mlp.losses import NOT_A_CLASS, soft_cross_entropy, softmax_cross_entropy
from mlp.network import MLP

EPS = 1e-6


def numeric_grad(f, x):
    """Central differences of scalar f() with respect to every entry of x (modified in place)."""
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + EPS
        up = f()
        x[i] = old - EPS
        down = f()
        x[i] = old
        g[i] = (up - down) / (2 * EPS)
    return g


def assert_close(analytic, numeric):
    err = np.abs(analytic - numeric).max() / max(1e-8, np.abs(numeric).max())
    assert err < 1e-5, f"relative error {err:.2e}"


def layer_check(layer, x, rng, before_forward=lambda: None):
    """Check dL/dx and dL/dparams for L = sum(forward(x) * r) with a fixed random r."""
    before_forward()
    r = rng.standard_normal(layer.forward(x, training=True).shape)

    def loss():
        before_forward()
        return float((layer.forward(x, training=True) * r).sum())

    loss()
    grad_x = layer.backward(r.copy())
    if grad_x is not None:
        assert_close(grad_x, numeric_grad(loss, x))
    for key, p in layer.params.items():
        loss()
        layer.backward(r.copy())
        analytic = layer.grads[key].copy()
        assert_close(analytic, numeric_grad(loss, p))


def test_dense_gradients():
    rng = np.random.default_rng(1)
    layer = Dense(5, 4, rng=rng, dtype=np.float64)
    layer.params["b"][:] = rng.standard_normal(4)
    layer_check(layer, rng.standard_normal((3, 5)), rng)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients(name):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from relu's kink, where no derivative exists
    layer_check(Activation(name), x, rng)


def test_dropout_gradients_with_a_fixed_mask():
    rng = np.random.default_rng(3)
    layer = Dropout(0.5)
    x = rng.standard_normal((4, 6))
    # Re-seed before every forward so each call draws the same mask.
    layer_check(layer, x, rng, before_forward=lambda: setattr(layer, "rng", np.random.default_rng(0)))
    assert 0 < (layer._mask == 0).sum() < layer._mask.size


def test_dropout_is_identity_at_inference_and_unbiased_in_training():
    x = np.ones((2000, 50), dtype=np.float32)
    layer = Dropout(0.3, rng=np.random.default_rng(0))
    assert layer.forward(x) is x
    y = layer.forward(x, training=True)
    assert abs(float(y.mean()) - 1.0) < 0.02
    assert abs(float((y == 0).mean()) - 0.3) < 0.02


def test_softmax_cross_entropy_gradient():
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((5, 10)) * 3
    labels = rng.integers(0, 10, 5)
    _, probs, grad = softmax_cross_entropy(logits, labels)
    assert np.allclose(probs.sum(axis=1), 1)
    assert_close(grad, numeric_grad(lambda: softmax_cross_entropy(logits, labels)[0], logits))


def test_softmax_cross_entropy_gradient_with_inputs_of_no_class():
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((6, 10)) * 3
    labels = np.array([3, NOT_A_CLASS, 0, NOT_A_CLASS, 9, 1])
    loss, _, grad = softmax_cross_entropy(logits, labels)
    assert_close(grad, numeric_grad(lambda: softmax_cross_entropy(logits, labels)[0], logits))
    # Uniform logits are the best answer for an input of no class: the loss there is ln k, its gradient 0.
    flat_loss, _, flat_grad = softmax_cross_entropy(np.zeros((1, 10)), np.array([NOT_A_CLASS]))
    assert flat_loss == pytest.approx(np.log(10)) and np.abs(flat_grad).max() < 1e-12


def test_softmax_cross_entropy_survives_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32)
    loss, probs, grad = softmax_cross_entropy(logits, np.array([2]))
    assert np.isfinite(loss) and np.isfinite(probs).all() and np.isfinite(grad).all()
    assert loss == pytest.approx(-np.log(np.finfo(np.float32).eps), rel=1e-3)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_whole_network_gradients(activation):
    rng = np.random.default_rng(5)
    net = MLP([6, 5, 4, 3], activation, seed=1, dtype="float64")
    for p, _, _ in net.parameters():
        p += rng.standard_normal(p.shape) * 0.1  # non-zero biases too
    x = rng.standard_normal((7, 6))
    y = rng.integers(0, 3, 7)

    def loss():
        return softmax_cross_entropy(net.forward(x), y)[0]

    net.loss_and_grads(x, y)
    analytic = [g.copy() for _, g, _ in net.parameters()]
    for (p, _, _), a in zip(net.parameters(), analytic):
        assert_close(a, numeric_grad(loss, p))


def test_soft_cross_entropy_gradient_and_its_agreement_with_labels():
    rng = np.random.default_rng(6)
    logits = rng.standard_normal((5, 10)) * 3
    targets = rng.dirichlet(np.ones(10), 5)
    _, probs, grad = soft_cross_entropy(logits, targets)
    assert np.allclose(probs.sum(axis=1), 1)
    assert_close(grad, numeric_grad(lambda: soft_cross_entropy(logits, targets)[0], logits))
    # One-hot and uniform targets give what the labels' loss gives, for labels and NOT_A_CLASS alike.
    labels = np.array([3, NOT_A_CLASS, 0, 9, NOT_A_CLASS])
    one_hot = np.where(labels[:, None] == NOT_A_CLASS, 0.1, np.eye(10)[labels])
    hard_loss, _, hard_grad = softmax_cross_entropy(logits, labels)
    soft_loss, _, soft_grad = soft_cross_entropy(logits, one_hot)
    assert soft_loss == pytest.approx(hard_loss) and np.allclose(soft_grad, hard_grad)
