"""The training loop: records, determinism, stopping, early stopping, divergence, validation."""

import dataclasses
import threading
import tracemalloc

import numpy as np
import pytest

from mlp import MLP, ConfigError, DivergedError, TrainConfig, Trainer, TrainOutcome, build_model
from mlp.network import INFERENCE_BYTES
from mlp.training import split_validation


def toy_data(n=600, seed=0, separation=3.0):
    """Three Gaussian blobs in 20 dimensions (well separated by default)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = rng.standard_normal((3, 20)) * separation
    x = (centres[y] + rng.standard_normal((n, 20))).astype(np.float32)
    return x, y


def toy_config(**kw):
    base = dict(hidden=(16,), epochs=3, batch_size=32, seed=1, val_fraction=0.2)
    base.update(kw)
    return TrainConfig(**base)


def train_all(config, x, y, **kw):
    model = build_model(config, n_in=x.shape[1], n_out=3)
    trainer = Trainer(model, config, x, y, **kw)
    records = list(trainer.run())
    return model, trainer, records


def test_records_every_epoch_and_learns():
    x, y = toy_data()
    model, trainer, records = train_all(toy_config(epochs=4), x, y)
    assert [r.epoch for r in records] == [1, 2, 3, 4]
    assert trainer.outcome is TrainOutcome.COMPLETED and trainer.outcome == "completed"  # a StrEnum
    assert records[-1].train_loss < records[0].train_loss
    assert records[-1].val_accuracy > 0.9
    assert all(r.seconds > 0 and r.samples_per_second > 0 and r.val_seconds >= 0 for r in records)
    assert model.meta["history"] == [r.to_dict() for r in records]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("schedule", ["constant", "step", "cosine"])
def test_every_optimizer_and_schedule_learns(optimizer, schedule):
    x, y = toy_data()
    lr = 1e-2 if optimizer == "adam" else 0.1
    _, _, records = train_all(toy_config(optimizer=optimizer, schedule=schedule, lr=lr, step_size=1, gamma=0.5), x, y)
    assert records[-1].val_accuracy > 0.9
    if schedule == "step":
        assert [r.lr for r in records] == pytest.approx([lr, lr / 2, lr / 4])


def test_same_seed_same_model_bit_for_bit():
    x, y = toy_data()
    config = toy_config(dropout=0.3, weight_decay=1e-3)
    a, _, ra = train_all(config, x, y)
    b, _, rb = train_all(config, x, y)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert np.array_equal(wa, wb)
    assert [r.train_loss for r in ra] == [r.train_loss for r in rb]
    c, _, _ = train_all(toy_config(dropout=0.3, weight_decay=1e-3, seed=2), x, y)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_float32_throughout():
    x, y = toy_data()
    model, _, _ = train_all(toy_config(), x, y)
    assert all(p.dtype == np.float32 for p in model.get_weights())
    assert model.predict_proba(x).dtype == np.float32


def test_a_wide_network_reads_a_test_set_in_batches_that_bound_its_memory():
    """predict_proba's batches keep a pass within INFERENCE_BYTES (NumPy reports its arrays to tracemalloc),
    and give the probabilities one pass over all rows gives."""
    model = MLP([784, 2048, 10], seed=0, dtype="float64")
    x = np.random.default_rng(0).random((3000, 784))
    whole = model.predict_proba(x, batch_size=len(x))
    tracemalloc.start()
    try:
        batched = model.predict_proba(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < INFERENCE_BYTES + 2**20 < 3000 * 2048 * 8 * 2  # one pass over all rows: 98 MB per layer output
    np.testing.assert_allclose(batched, whole, rtol=1e-10, atol=1e-12)


def test_validation_split_is_disjoint_and_seeded():
    rng = np.random.default_rng(0)
    train, val = split_validation(100, 0.25, rng)
    assert len(val) == 25 and len(train) == 75
    assert not set(train) & set(val) and set(train) | set(val) == set(range(100))
    train2, val2 = split_validation(100, 0.25, np.random.default_rng(0))
    assert np.array_equal(val, val2)


def test_explicit_validation_set_and_subset():
    x, y = toy_data()
    config = toy_config(train_subset=200, val_fraction=0.0)
    model = build_model(config, n_in=20, n_out=3)
    trainer = Trainer(model, config, x, y, validation=(x[:50], y[:50]))
    assert len(trainer.train_idx) == 200
    assert list(trainer.run())[-1].val_accuracy is not None


def test_stop_between_batches_restores_last_finished_epoch():
    x, y = toy_data()
    config = toy_config(epochs=5)
    model = build_model(config, n_in=20, n_out=3)
    stop = threading.Event()
    batches = []

    def progress(done, total):
        batches.append(done)
        if len(model.meta["history"]) == 2 and done >= 3:
            stop.set()

    trainer = Trainer(model, config, x, y, progress=progress)
    snapshot = None
    for _ in trainer.run(stop):
        snapshot = model.get_weights()
    assert trainer.outcome == "stopped"
    assert len(trainer.history) == 2
    # The half-done third epoch changed weights, and they were rolled back.
    for a, b in zip(snapshot, model.get_weights()):
        assert np.array_equal(a, b)


def test_stop_during_first_epoch_keeps_initial_weights():
    x, y = toy_data()
    config = toy_config()
    model = build_model(config, n_in=20, n_out=3)
    initial = model.get_weights()
    stop = threading.Event()
    trainer = Trainer(model, config, x, y, progress=lambda done, total: stop.set())
    assert list(trainer.run(stop)) == []
    assert trainer.outcome == "stopped"
    assert np.array_equal(initial[0], model.get_weights()[0])


def test_continue_training_extends_history():
    x, y = toy_data()
    config = toy_config(epochs=2)
    model, _, _ = train_all(config, x, y)
    records = list(Trainer(model, config, x, y).run())
    assert [r.epoch for r in records] == [3, 4]
    assert len(model.meta["history"]) == 4


def test_early_stopping_restores_best_weights():
    x, y = toy_data(n=200, separation=0.5)
    # A big network on tiny, overlapping data overfits: validation loss rises and patience runs out.
    config = toy_config(hidden=(256, 256), epochs=60, lr=0.01, patience=2, val_fraction=0.5, batch_size=8)
    model = build_model(config, n_in=20, n_out=3)
    trainer = Trainer(model, config, x, y)
    records = list(trainer.run())
    assert trainer.outcome == "early_stopped"
    assert len(records) < 60
    best = min(r.val_loss for r in records)
    assert records[-1].val_loss > best
    assert model.evaluate(*trainer.validation).loss == pytest.approx(best, rel=1e-5)


def test_early_stopping_without_a_comparable_validation_loss_keeps_the_last_epoch():
    """A NaN validation loss never compares better than the last: patience runs out with no best epoch.

    (Found by mypy: the early stop restored weights that were still None, a TypeError.)
    """
    x, y = toy_data(n=200)
    config = toy_config(epochs=3, patience=1)
    model = build_model(config, n_in=20, n_out=3)
    evaluate = model.evaluate

    def nan_loss(*args):
        return dataclasses.replace(evaluate(*args), loss=float("nan"))

    model.evaluate = nan_loss
    trainer = Trainer(model, config, x, y)
    records = list(trainer.run())
    assert trainer.outcome == "early_stopped" and [r.epoch for r in records] == [1]
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), trainer._good))


def test_divergence_is_reported_and_last_good_weights_kept():
    x, y = toy_data()
    x = x * 1e3
    config = toy_config(optimizer="sgd", lr=1e4, epochs=5)
    model = build_model(config, n_in=20, n_out=3)
    trainer = Trainer(model, config, x, y)
    initial = model.get_weights()
    with pytest.raises(DivergedError, match="training diverged.*try a smaller learning rate"):
        list(trainer.run())
    assert trainer.outcome == "diverged"
    assert model.weights_finite()
    assert trainer.history == []  # it blew up within the first epoch...
    assert all(np.array_equal(a, b) for a, b in zip(initial, model.get_weights()))  # ...so: initial weights


def test_batch_larger_than_data_is_refused():
    x, y = toy_data(n=50)
    config = toy_config(batch_size=64)
    with pytest.raises(ConfigError, match="batch_size 64 is larger than the 40 training samples"):
        Trainer(build_model(config, n_in=20, n_out=3), config, x, y)


def test_mnist_accuracy_smoke(mnist_small):
    x, y, x_test, y_test = mnist_small
    config = TrainConfig(hidden=(64,), epochs=2, batch_size=32, seed=0)
    model = build_model(config)
    list(Trainer(model, config, x, y).run())
    ev = model.evaluate(x_test, y_test)
    assert ev.accuracy > 0.85  # chance is 0.10
    assert ev.confusion_matrix.sum() == 2000
    assert np.allclose(np.diag(ev.confusion_matrix) / ev.confusion_matrix.sum(axis=1), ev.per_class_accuracy)


def test_augmentation_is_seeded_and_changes_training(mnist_small):
    from mlp.augment import AugmentConfig

    x, y, _, _ = mnist_small
    images = (x[:1000] * 255).round().astype(np.uint8).reshape(-1, 28, 28)
    labels = y[:1000]

    def train(augment, seed=0):
        config = TrainConfig(hidden=(32,), epochs=1, seed=seed, augment=augment)
        model = build_model(config)
        list(Trainer(model, config, images, labels).run())
        return model.get_weights()[0]

    a, b = train(AugmentConfig()), train(AugmentConfig())
    assert np.array_equal(a, b)  # same seed, same distortions, same model
    assert not np.array_equal(a, train(None))  # and the distortions did change what it learned
