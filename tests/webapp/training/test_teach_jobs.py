"""Teach jobs: mlp.adapt as a task on the engine, ahead of training epochs, stopped like runs. No MNIST needed."""

import time
from functools import partial

import numpy as np
import pytest
from test_jobs import _stop_leftover_runs, gate, job, one_worker  # noqa: F401 - the fixture stops test runs

from harness import PATIENCE
from mlp import MLP, TrainConfig
from mlp.adapt import AdaptConfig, AdaptError, adapt, replay_and_check
from webapp.training.memory import memory_bytes, model_bytes
from webapp.training.protocol import JobState, Task
from webapp.training.start import start_teaching

FAST = AdaptConfig(steps=12, probe_steps=4, batch_size=16)


def synthetic(n, seed=0):
    """((x, y), (x_test, y_test)): ten digit-like classes, each a bright bar in its own rows; uint8 (n, 28, 28)."""
    rng = np.random.default_rng(seed)

    def make(m):
        y = rng.integers(0, 10, m)
        x = rng.integers(0, 40, (m, 28, 28)).astype(np.uint8)
        for digit in range(10):
            x[y == digit, 2 + 2 * digit: 4 + 2 * digit, 6:22] = 255
        return x, y

    return make(n), make(n // 3)


DATA = partial(synthetic, 600)


def unreadable():
    """A loader whose files have gone: the worker fails to load its data."""
    raise FileNotFoundError("the dataset's files are gone")


def drawings(n=20, seed=1):
    """n drawings (two of each digit when n=20) as uint8 images and labels."""
    (x, y), _ = synthetic(200, seed)
    labels = np.arange(n) % 10
    return np.stack([x[np.flatnonzero(y == d)[i // 10]] for i, d in enumerate(labels)]), labels


def model():
    return MLP([784, 32, 10], seed=5)


def wait(predicate, seconds=PATIENCE):
    """True once predicate() holds; False after `seconds` (a hang guard: a busy machine gives the worker CPU late)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_teach_job_fine_tunes_a_copy_like_adapt_in_process():
    base = model()
    base.meta["name"] = "Mine"
    base.meta["training"] = TrainConfig(val_fraction=0.1, seed=4).to_dict()  # 60 of the 600 rows: the check
    before = [w.copy() for w in base.get_weights()]
    images, labels = drawings()
    job = start_teaching("teach", base, images, labels, DATA, one_worker(), config=FAST, seed=3)
    assert job.task is Task.TEACH and job.join(PATIENCE), job.view()
    assert job.state == JobState.COMPLETED, job.error
    assert all(np.array_equal(a, b) for a, b in zip(before, base.get_weights()))  # the base is untouched
    taught = job.snapshot
    assert taught is not None and taught.meta["name"] == "Mine + yours"
    adapted = taught.meta["adapted"]
    assert adapted["n_drawings"] == 20 and adapted["per_digit"] == [2] * 10
    assert adapted["steps"] == FAST.probe_steps + FAST.steps
    assert adapted["holdout"]["n"] == 10  # one of each digit's two drawings held out of the probe steps
    assert set(adapted["mnist_test_accuracy"]) == {"before", "after"}
    assert isinstance(taught.meta["test_accuracy"], float)
    view = job.view()
    assert view.progress == 1.0 and view.epochs_total == 1 and view.test_accuracy == taught.meta["test_accuracy"]

    assert adapted["check"]["n"] == 60 and adapted["blend"] <= 1  # the worker checks as adapt does
    train, test = synthetic(600)
    replay, check = replay_and_check(base, *train)
    here = adapt(base, images, labels, replay=replay, check=check, test=test, config=FAST, seed=3)
    assert here.model.meta["adapted"]["check"] == adapted["check"]
    for a, b in zip(here.model.get_weights(), taught.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # BLAS threads may group sums differently


def test_a_taught_model_can_be_taught_again_from_itself():
    images, labels = drawings()
    first = start_teaching("a", model(), images, labels, DATA, one_worker(), config=FAST)
    assert first.join(PATIENCE) and first.state == JobState.COMPLETED
    second = start_teaching("b", first.snapshot, images, labels, DATA, one_worker(), config=FAST, seed=1)
    assert second.join(PATIENCE) and second.state == JobState.COMPLETED, second.error
    assert second.snapshot.meta["name"] == first.snapshot.meta["name"]  # "... + yours" once, not twice
    assert not np.array_equal(second.snapshot.get_weights()[0], first.snapshot.get_weights()[0])


def test_teaching_goes_before_runs_waiting_for_their_next_epoch(tmp_path):
    """A teach is a click's wait: on a one-worker engine it takes the next turn, ahead of training runs."""
    path, held = gate(tmp_path)
    run = job(epochs=500, name="run", data=held).start()
    assert wait(lambda: run.state == JobState.RUNNING)  # its first task holds the worker until the gate opens
    waiting = job(epochs=500, name="waiting").start()
    assert wait(lambda: waiting.view().queue_position == 1)
    images, labels = drawings()
    teach = start_teaching("teach", model(), images, labels, DATA, one_worker(), config=FAST)
    assert wait(lambda: waiting.view().queue_position == 2)  # the teach went ahead of it
    assert teach.view().queue_position == 1 and teach.view().state == JobState.QUEUED
    path.touch()
    assert teach.join(PATIENCE) and teach.state == JobState.COMPLETED, teach.error
    assert waiting.training_started_at is None or teach.training_started_at <= waiting.training_started_at
    run.stop(), waiting.stop()


def test_stop_ends_a_teach_job_without_a_model():
    images, labels = drawings()
    job = start_teaching("teach", model(), images, labels, DATA, one_worker(),
                         config=AdaptConfig(steps=100_000, batch_size=16))
    assert wait(lambda: job.view().progress > 0), job.view()
    job.stop()
    assert job.join(PATIENCE) and job.state == JobState.STOPPED
    assert job.snapshot is None and job.error is None


@pytest.mark.parametrize(("labels", "message"), [
    (np.array([10] * 20), "outside 0-9"),
    (np.arange(5), "labels shaped"),
])
def test_bad_drawings_are_refused_before_a_worker_starts(labels, message):
    images, _ = drawings()
    with pytest.raises(AdaptError, match=message):
        start_teaching("teach", model(), images, labels, DATA, one_worker(), config=FAST)


def test_a_failure_in_the_worker_is_reported():
    images, labels = drawings()
    job = start_teaching("teach", model(), images, labels, unreadable, one_worker(),
                         config=FAST)
    assert job.join(PATIENCE) and job.state == JobState.FAILED
    assert "dataset's files are gone" in job.error and job.snapshot is None


def test_a_taught_models_memory_of_the_drawings_comes_back_from_the_engine():
    images, labels = drawings()
    config = AdaptConfig(steps=12, probe_steps=4, batch_size=16, memory=True)
    job = start_teaching("teach", model(), images, labels, DATA, one_worker(), config=config)
    assert job.join(PATIENCE) and job.state == JobState.COMPLETED, job.error
    taught = job.snapshot
    assert taught.memory is not None and taught.memory.describe()["count"] == 180  # 20 drawings, 8 copies of each
    # The budget counts the memory with the weights, and Draw admits a teaching with room for it beforehand.
    plain = model_bytes(MLP(taught.layer_sizes, seed=0, dtype=taught.dtype.name))
    assert model_bytes(taught) - plain >= 180 * taught.layer_sizes[-2] * 4  # 180 rows of the last hidden layer
    assert memory_bytes(model(), 20) == model_bytes(taught) - plain
    assert memory_bytes(MLP([784, 10]), 20) == 0  # no hidden layer: no memory
