"""The fast paths give the textbook results: reused buffers, in-place updates, flat parameters, float32."""

import copy
import math
import threading
import tracemalloc

import numpy as np
import pytest

from mlp import TrainConfig, Trainer, build_model
from mlp.layers import Dropout
from mlp.losses import row_max, softmax, softmax_cross_entropy
from mlp.network import MLP
from mlp.optimizers import SGD, Adam


def naive_forward(net, x):
    """The network's forward pass written out plainly: every layer allocates, relu hidden layers."""
    pre = []
    h = x
    for i, d in enumerate(net.dense):
        z = h @ d.params["W"] + d.params["b"]
        pre.append((h, z))
        h = np.maximum(z, 0) if i < len(net.dense) - 1 else z
    return h, pre


def naive_grads(net, x, y):
    """Textbook backprop of the mean softmax cross-entropy: [(dW, db)] per layer."""
    logits, pre = naive_forward(net, x)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta = p.copy()
    delta[np.arange(len(y)), y] -= 1
    delta /= len(y)
    grads = []
    for i in reversed(range(len(net.dense))):
        h, _ = pre[i]
        grads.append((h.T @ delta, delta.sum(axis=0)))
        if i > 0:
            delta = (delta @ net.dense[i].params["W"].T) * (pre[i - 1][1] > 0)
    return grads[::-1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_buffered_training_step_matches_naive_backprop_for_every_batch_size(dtype):
    rng = np.random.default_rng(0)
    net = MLP([30, 16, 8, 5], "relu", seed=0, dtype=dtype)
    for p, _, _ in net.parameters():
        p += rng.standard_normal(p.shape).astype(p.dtype) * 0.1
    tol = 1e-4 if dtype == "float32" else 1e-12
    # A full batch, a short last batch, a bigger one, and back: buffers must follow.
    for n in (32, 7, 100, 32, 1):
        x = rng.standard_normal((n, 30)).astype(dtype)
        y = rng.integers(0, 5, n)
        loss, probs = net.loss_and_grads(x, y)
        for d, (dw, db) in zip(net.dense, naive_grads(net, x, y)):
            np.testing.assert_allclose(d.grads["W"], dw, rtol=tol, atol=tol)
            np.testing.assert_allclose(d.grads["b"], db, rtol=tol, atol=tol)
        logits, _ = naive_forward(net, x)
        np.testing.assert_allclose(net.forward(x), logits, rtol=tol, atol=tol)
        assert probs.dtype == np.dtype(dtype) and probs.shape == (n, 5)


def test_inference_is_exact_and_keeps_nothing():
    rng = np.random.default_rng(1)
    net = MLP([784, 64, 10], "relu", seed=0)
    x = rng.random((8192 + 5, 784), dtype=np.float32)
    expected = softmax(naive_forward(net, x)[0])
    np.testing.assert_allclose(net.predict_proba(x), expected, rtol=1e-5, atol=1e-6)
    # Inference must not create or touch per-layer scratch arrays (shared models, many threads).
    assert not any(hasattr(layer, "_scratch") for layer in net.layers)


def test_concurrent_inference_on_one_model_while_it_is_shared():
    rng = np.random.default_rng(2)
    net = MLP([784, 128, 64, 10], "relu", seed=0)
    inputs = [rng.random((n, 784), dtype=np.float32) for n in (1, 37, 128, 500)]
    expected = [net.predict_proba(x) for x in inputs]
    errors = []

    def worker(k):
        for _ in range(30):
            i = k % len(inputs)
            if not np.array_equal(net.predict_proba(inputs[i]), expected[i]):
                errors.append(i)
            k += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def toy(n=600, d=20, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = (rng.standard_normal((classes, d))[y] * 3 + rng.standard_normal((n, d))).astype(np.float32)
    return x, y


def test_float32_training_never_makes_float64():
    x, y = toy()
    config = TrainConfig(hidden=(16, 8), epochs=1, batch_size=32, val_fraction=0.2, dropout=0.2, weight_decay=1e-3)
    model = build_model(config, n_in=20, n_out=3)
    trainer = Trainer(model, config, x, y)
    list(trainer.run())
    arrays = [p for p, _, _ in model.parameters()] + [g for _, g, _ in model.parameters()]
    for layer in model.layers:
        scratch = getattr(layer, "_scratch", None)
        if scratch is not None:
            arrays += [a for a in scratch._arrays.values() if a.dtype != np.bool_]
    opt = trainer.optimizer
    arrays += opt.m + opt.v + opt._tmp
    assert arrays and all(a.dtype == np.float32 for a in arrays), {a.dtype for a in arrays}
    loss, probs = model.loss_and_grads(x[:32], y[:32])
    assert probs.dtype == np.float32 and isinstance(loss, float)


def test_layers_are_views_of_the_flat_vectors_and_stay_so():
    x, y = toy()
    config = TrainConfig(hidden=(16,), epochs=2, batch_size=32, val_fraction=0.0)
    model = build_model(config, n_in=20, n_out=3)
    (w, gw, _), (b, gb, _) = model.flat_parameters()
    before = [p.copy() for p, _, _ in model.parameters()]
    list(Trainer(model, config, x, y).run())
    for d in model.dense:
        assert np.shares_memory(d.params["W"], w) and np.shares_memory(d.grads["W"], gw)
        assert np.shares_memory(d.params["b"], b) and np.shares_memory(d.grads["b"], gb)
    assert w.size + b.size == model.n_parameters
    assert not np.array_equal(before[0], model.dense[0].params["W"])  # trained, in place


def textbook_adam(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return p


def textbook_sgd(p, grads, lr, mu=0.0, nesterov=False, wd=0.0):
    v = np.zeros_like(p)
    for g in grads:
        g = g + wd * p
        v = mu * v + g
        p = p - lr * ((g + mu * v) if nesterov else (v if mu else g))
    return p


@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_in_place_adam_is_textbook_adam(wd):
    rng = np.random.default_rng(3)
    p0 = rng.standard_normal(50)
    grads = [rng.standard_normal(50) * 10.0 ** rng.integers(-4, 2) for _ in range(20)]
    p, g = p0.copy(), np.zeros(50)
    opt = Adam([(p, g, True)], weight_decay=wd)
    for grad in grads:
        g[:] = grad
        opt.step(0.01)
    np.testing.assert_allclose(p, textbook_adam(p0, grads, 0.01, wd=wd), rtol=1e-12, atol=1e-13)
    assert opt.parameters[0][0] is p  # updated in place


@pytest.mark.parametrize("mu, nesterov, wd",
                         [(0.0, False, 0.0), (0.9, False, 0.0), (0.9, True, 0.01), (0.0, False, 0.01)])
def test_in_place_sgd_is_textbook_sgd(mu, nesterov, wd):
    rng = np.random.default_rng(4)
    p0 = rng.standard_normal(50)
    grads = [rng.standard_normal(50) for _ in range(10)]
    p, g = p0.copy(), np.zeros(50)
    opt = SGD([(p, g, True)], momentum=mu, nesterov=nesterov, weight_decay=wd)
    for grad in grads:
        g[:] = grad
        opt.step(0.1)
    np.testing.assert_allclose(p, textbook_sgd(p0, grads, 0.1, mu, nesterov, wd), rtol=1e-12, atol=1e-13)


def test_a_training_step_allocates_no_batch_sized_arrays():
    x, y = toy(n=2048, d=784, classes=10)
    # No dropout here: it draws fresh random bits (integers, not activations) for every batch.
    config = TrainConfig(hidden=(512, 256), epochs=1, batch_size=128, val_fraction=0.0)
    model = build_model(config)
    trainer = Trainer(model, config, x, y)
    list(trainer.run())  # warm up: buffers exist now
    idx = np.arange(128)
    peaks = []
    # tracemalloc counts every thread of the process: an earlier test's thread (a Dask client's, a relay's)
    # allocating meanwhile shows up in one step's peak, never in all five, where a step's own arrays would.
    for _ in range(5):
        tracemalloc.start()
        try:
            xb = trainer._gather(idx)
            model.loss_and_grads(xb, trainer.y[idx])
            trainer.optimizer.step(1e-3)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    # The smallest activation, (128, 256) float32, is 128 KiB. What a step may still allocate is
    # logits-sized arrays, relu's boolean mask (a quarter of an activation) and NumPy's own
    # fixed-size ufunc buffers (8192 elements, for casts and broadcasts).
    assert min(peaks) < 120 * 1024, f"a training step allocated {peaks} bytes at its peak"


def test_deepcopy_drops_scratch_and_relinks_the_flat_vectors():
    x, y = toy()
    config = TrainConfig(hidden=(16,), epochs=1, batch_size=32, val_fraction=0.0, dropout=0.1)
    model = build_model(config, n_in=20, n_out=3)
    list(Trainer(model, config, x, y).run())
    assert any(hasattr(layer, "_scratch") for layer in model.layers)
    clone = copy.deepcopy(model)
    assert not any(hasattr(layer, "_scratch") for layer in clone.layers)
    for a, b in zip(model.get_weights(), clone.get_weights()):
        assert np.array_equal(a, b)
    (w, _, _), _ = clone.flat_parameters()
    assert np.shares_memory(clone.dense[0].params["W"], w)
    assert not np.shares_memory(clone.dense[0].params["W"], model.dense[0].params["W"])
    # The copy trains on its own, through its own flat vectors, and leaves the original alone.
    before = model.get_weights()
    list(Trainer(clone, TrainConfig(**{**config.to_dict(), "hidden": (16,)}), x, y).run())
    assert not np.array_equal(clone.dense[0].params["W"], before[0])
    for a, b in zip(model.get_weights(), before):
        assert np.array_equal(a, b)


def test_row_max_and_fused_loss_match_the_plain_forms():
    rng = np.random.default_rng(5)
    logits = (rng.standard_normal((64, 10)) * 5).astype(np.float32)
    labels = rng.integers(0, 10, 64)
    assert np.array_equal(row_max(logits), logits.max(axis=1))
    loss, probs, grad = softmax_cross_entropy(logits, labels)
    onehot = np.eye(10, dtype=np.float32)[labels]
    np.testing.assert_allclose(grad, (probs - onehot) / 64, rtol=1e-5, atol=1e-7)
    eps = np.finfo(np.float32).eps
    assert loss == pytest.approx(float(-np.log(np.maximum(probs[np.arange(64), labels], eps)).mean()), rel=1e-5)
    assert math.isfinite(loss) and probs.dtype == grad.dtype == np.float32


def test_dropout_keeps_the_requested_fraction_and_repeats_with_its_seed():
    x = np.ones((1000, 300), dtype=np.float32)
    for rate in (0.1, 0.5, 0.9):
        a = Dropout(rate, rng=np.random.default_rng(7)).forward(x, training=True).copy()
        b = Dropout(rate, rng=np.random.default_rng(7)).forward(x, training=True)
        assert np.array_equal(a, b)
        assert abs(float((a == 0).mean()) - rate) < 0.005
        assert set(np.unique(a)) == {np.float32(0), np.float32(2**16 / round((1 - rate) * 2**16))}
        assert abs(float(a.mean()) - 1) < 0.01  # unbiased


def test_chunked_updates_equal_whole_array_updates():
    from mlp import optimizers

    rng = np.random.default_rng(8)
    n = 3 * optimizers.CHUNK + 17
    p0 = rng.standard_normal(n).astype(np.float32)
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
    results = []
    for chunk in (optimizers.CHUNK, 10 * n):
        optimizers.CHUNK, saved = chunk, optimizers.CHUNK
        try:
            for make in (lambda ps: Adam(ps, weight_decay=0.01), lambda ps: SGD(ps, momentum=0.9, nesterov=True)):
                p, g = p0.copy(), np.zeros(n, np.float32)
                opt = make([(p, g, True)])
                assert len(opt._chunks) == (4 if chunk < n else 1)
                for grad in grads:
                    g[:] = grad
                    opt.step(0.01)
                results.append(p)
        finally:
            optimizers.CHUNK = saved
    assert np.array_equal(results[0], results[2]) and np.array_equal(results[1], results[3])


def subnormal_count(a):
    return int(np.count_nonzero((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)))


@pytest.mark.parametrize("make", [lambda ps: Adam(ps), lambda ps: SGD(ps, momentum=0.9)], ids=["adam", "momentum"])
def test_moments_of_gradients_that_stop_are_flushed_before_they_turn_subnormal(make):
    p, g = np.ones(1000, np.float32), np.zeros(1000, np.float32)
    opt = make([(p, g, True)])
    g[:] = 1e-3  # one gradient, then silence: the moments decay geometrically (0.9 per step)
    opt.step(1e-3)
    g[:] = 0
    for _ in range(1200):  # 0.9**1200 is 1e-55: far through the subnormals without flushing
        opt.step(1e-3)
        moments = opt.m + opt.v if isinstance(opt, Adam) else opt.velocity
        assert sum(subnormal_count(a) for a in moments) == 0
    first = opt.m if isinstance(opt, Adam) else opt.velocity  # decayed by 0.9 per step: flushed to zero by now
    assert all(np.all(a == 0) for a in first)


def test_weights_that_weight_decay_shrinks_to_nothing_are_flushed_before_they_turn_subnormal():
    x, y = toy(n=600)
    x[:, :5] = 0  # dead inputs: only weight decay moves their weights, towards zero
    config = TrainConfig(hidden=(16,), optimizer="adam", lr=1e-2, epochs=40, batch_size=8, val_fraction=0.2,
                         weight_decay=1e-3)
    model = build_model(config, n_in=20, n_out=3)
    trainer = Trainer(model, config, x, y)
    list(trainer.run())  # 2,400 steps: without flushing, 153 weights and moments end up subnormal
    arrays = [p for p, _, _ in model.parameters()] + trainer.optimizer.m + trainer.optimizer.v
    assert sum(subnormal_count(a) for a in arrays) == 0
    assert np.all(model.dense[0].params["W"][:5] == 0)
