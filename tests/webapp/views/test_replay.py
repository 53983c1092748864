"""Replaying a run epoch by epoch: weights kept within a budget, scores per epoch, the Inspect section."""

import gc
from functools import partial

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mlp import MLP, TrainConfig, build_model
from webapp.training import engine as engines
from webapp.training.job import TrainingJob
from webapp.training.replay import EpochWeights, ReplayCache, compact, evaluate_epoch, model_at
from webapp.training.sources import load_training_split
from webapp.training.start import finish_with_test_score

FLOAT16 = {"rtol": 2**-11, "atol": 2**-24}  # float16's rounding, normal and subnormal


def weights_of(sizes, seed=0):
    return MLP(sizes, seed=seed).get_weights()


def kept_after(n_epochs, capacity, first=1):
    """Epochs EpochWeights keeps after epochs first..first+n_epochs-1 with room for `capacity` of them."""
    ws = compact(weights_of([4, 3, 2]))
    store = EpochWeights(budget=capacity * sum(w.nbytes for w in ws))
    for e in range(first, first + n_epochs):
        store.add(e, ws)
        assert len(store) <= max(2, capacity) and store.nbytes <= max(2, capacity) * sum(w.nbytes for w in ws)
    return list(store.as_dict())


def test_compact_makes_read_only_float16_copies_and_keeps_float32_where_float16_overflows():
    w = np.array([[0.1, -2.5], [1e5, 3.0]], dtype=np.float32)
    b = np.array([0.5, -0.25], dtype=np.float32)
    cw, cb = compact([w, b])
    assert cw.dtype == np.float32 and cb.dtype == np.float16  # 1e5 > float16's max (65504)
    assert not cw.flags.writeable and not cb.flags.writeable
    b[0] = 9.0
    assert cb[0] == 0.5  # a copy, not a view
    np.testing.assert_allclose(cw, w)


def test_all_epochs_are_kept_within_the_budget():
    assert kept_after(10, capacity=10) == list(range(1, 11))


def test_over_budget_epochs_thin_evenly_keeping_the_first_and_the_latest():
    assert kept_after(4, capacity=3) == [1, 3, 4]
    assert kept_after(6, capacity=3) == [1, 5, 6]
    assert kept_after(9, capacity=3) == [1, 5, 9]
    assert kept_after(100, capacity=10) == [1, 17, 33, 49, 65, 81, 97, 100]
    for n in range(1, 60):
        kept = kept_after(n, capacity=5)
        assert kept[0] == 1 and kept[-1] == n
        gaps = set(np.diff(kept[:-1]))
        assert len(gaps) <= 1  # evenly spaced, the latest aside


def test_a_continued_run_counts_from_its_own_first_epoch_and_a_tiny_budget_keeps_two():
    assert kept_after(6, capacity=3, first=11) == [11, 15, 16]
    assert kept_after(7, capacity=0) == [1, 7]
    with pytest.raises(ValueError, match="at least 0 bytes, got -1"):
        EpochWeights(budget=-1)


def test_model_at_rebuilds_the_architecture_in_float32():
    original = MLP([6, 5, 3], activation="tanh", dropout=0.2, seed=3, dtype="float64")
    twin = model_at(original, compact(original.get_weights()))
    assert twin.layer_sizes == [6, 5, 3] and twin.activation == "tanh" and twin.dropout == 0.2
    assert twin.dtype == np.float32
    for a, b in zip(twin.get_weights(), original.get_weights()):
        np.testing.assert_allclose(a, b, **FLOAT16)


def test_evaluate_epoch_scores_those_weights():
    x = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)
    y = np.arange(40) % 3
    model = MLP([6, 5, 3], seed=0)
    zeros = [np.zeros_like(w) for w in model.get_weights()]  # every class equally likely: argmax says 0
    r = evaluate_epoch(model, zeros, x, y, epoch=4)
    assert r.epoch == 4 and r.accuracy == pytest.approx(np.mean(y == 0))
    np.testing.assert_array_equal(r.confusion_matrix, [[14, 0, 0], [13, 0, 0], [13, 0, 0]])
    r = evaluate_epoch(model, model.get_weights(), x, y, epoch=5)
    assert r.accuracy == pytest.approx(model.evaluate(x, y).accuracy)
    images = np.random.default_rng(1).integers(0, 256, (8, 28, 28), dtype=np.uint8)  # as a dataset holds them
    big = MLP([784, 4, 10], seed=0)
    assert evaluate_epoch(big, big.get_weights(), images, np.zeros(8, int), 1).confusion_matrix.sum() == 8


class Run:
    """A stand-in for a job: any weak-referenceable object works as a cache's run."""


def test_cache_computes_each_epoch_once_per_run_and_forgets_runs_that_are_gone():
    cache, calls = ReplayCache(per_run=2), []

    def compute(run, epoch):
        return lambda: calls.append((run, epoch)) or (run, epoch)

    a, b = Run(), Run()
    assert cache.get(a, 1, compute("a", 1)) == ("a", 1)
    assert cache.get(a, 1, compute("a", 1)) == ("a", 1)
    assert cache.get(b, 1, compute("b", 1)) == ("b", 1)
    assert calls == [("a", 1), ("b", 1)]
    cache.get(a, 2, compute("a", 2))
    cache.get(a, 1, compute("a", 1))  # still there; now the most recent
    cache.get(a, 3, compute("a", 3))  # over per_run: drops epoch 2, the least recently used
    cache.get(a, 2, compute("a", 2))
    assert calls == [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("a", 2)]
    del b
    gc.collect()
    assert len(cache._runs) == 1


# -- a real run ---------------------------------------------------------------------------------


def test_a_run_keeps_its_epochs_thinned_to_the_budget_and_the_last_is_the_final_model(mnist, mnist_dir):
    config = TrainConfig(hidden=(16,), epochs=6, batch_size=128, train_subset=1000, seed=0)
    model = build_model(config, n_out=10)
    per_epoch = 2 * model.n_parameters
    x_test, y_test = mnist.x_test[:1000], mnist.y_test[:1000]
    job = TrainingJob("replay", model, config, partial(load_training_split, "mnist", str(mnist_dir)),
                      engine=engines.shared(workers=1), finish=finish_with_test_score(x_test, y_test),
                      epoch_weights_budget=3 * per_epoch).start()
    assert job.join(120) and job.state == "completed"
    stored = job.epoch_weights()
    assert list(stored) == [1, 5, 6]  # room for 3: stride 4 from epoch 1, and the latest
    assert sum(w.nbytes for ws in stored.values() for w in ws) == 3 * per_epoch
    assert all(w.dtype == np.float16 for w in stored[6])
    for kept, final in zip(stored[6], job.snapshot.get_weights()):
        np.testing.assert_allclose(kept.astype(np.float32), final, **FLOAT16)
    last = evaluate_epoch(job.model, stored[6], x_test, y_test, 6)
    assert abs(last.accuracy - job.snapshot.meta["test_accuracy"]) <= 0.003  # float16 may flip a few
    assert evaluate_epoch(job.model, stored[1], x_test, y_test, 1).accuracy < last.accuracy


def test_a_continued_run_numbers_its_epochs_after_the_earlier_ones(mnist_dir):
    config = TrainConfig(hidden=(8,), epochs=2, batch_size=128, train_subset=500, seed=0)
    model = build_model(config, n_out=10)
    model.meta["history"] = [{"epoch": 1}, {"epoch": 2}, {"epoch": 3}]  # as if trained 3 epochs before
    job = TrainingJob("more", model, config, partial(load_training_split, "mnist", str(mnist_dir)),
                      engine=engines.shared(workers=1)).start()
    assert job.join(120) and job.state == "completed"
    assert list(job.epoch_weights()) == [4, 5]


# -- the Inspect section ----------------------------------------------------------------------


def replay_app():
    """The replay section over a fake run of a 784-4-10 model with epochs 1, 3 and 5 kept (or as the state says)."""
    import numpy as np
    import streamlit as st

    from mlp import MLP
    from webapp.session.registry import ModelEntry, ModelKind
    from webapp.training.replay import compact
    from webapp.views.replay import replay_section

    class FakeJob:
        def __init__(self, kept):
            self.model = MLP([784, 4, 10], seed=0)
            self.records = [None] * 5
            self.kept = {e: compact(MLP([784, 4, 10], seed=e).get_weights()) for e in kept}

        def epoch_weights(self):
            return dict(self.kept)

    ss = st.session_state
    if "job" not in ss:
        ss.job = FakeJob(ss.get("kept", [1, 3, 5])) if ss.get("kept", [1, 3, 5]) is not None else None
        rng = np.random.default_rng(0)
        ss.x, ss.y = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), rng.integers(0, 10, 50)
    replay_section(ModelEntry("m", ModelKind.TRAINED, job=ss.job), ss.x, ss.y, [str(i) for i in range(10)])


def open_replay(kept=(1, 3, 5)):
    at = AppTest.from_function(replay_app, default_timeout=60)
    at.session_state["kept"] = list(kept) if kept is not None else None
    at.run()
    assert not at.exception, at.exception
    return at


def expected_accuracy(at, epoch):
    job, x, y = at.session_state["job"], at.session_state["x"], at.session_state["y"]
    return f"{evaluate_epoch(job.model, job.kept[epoch], x, y, epoch).accuracy:.2%}"


def test_the_section_replays_the_kept_epochs_from_the_latest():
    at = open_replay()
    slider = at.select_slider(key="replay_epoch")
    assert slider.options == ["1", "3", "5"] and slider.value == 5
    assert [m.label for m in at.metric] == ["Test accuracy after epoch 5"]
    assert at.metric[0].value == expected_accuracy(at, 5)
    assert len(at.get("image")) == 1 and len(at.get("vega_lite_chart")) == 1
    assert "3 of this run's 5 epochs are kept" in at.caption[0].value
    slider.set_value(1).run()
    assert not at.exception, at.exception
    assert at.metric[0].label == "Test accuracy after epoch 1" and at.metric[0].value == expected_accuracy(at, 1)


def test_an_epoch_thinned_out_since_falls_back_to_the_latest():
    at = open_replay()
    at.select_slider(key="replay_epoch").set_value(3).run()
    at.session_state["job"].kept = {e: at.session_state["job"].kept[e] for e in (1, 5)}
    at.session_state["job"].kept[7] = at.session_state["job"].kept[5]
    at.run()
    assert not at.exception, at.exception
    assert at.select_slider(key="replay_epoch").value == 7


@pytest.mark.parametrize("kept", [None, (), (4,)])
def test_nothing_is_drawn_without_a_run_or_with_fewer_than_two_epochs(kept):
    at = open_replay(kept)
    assert not at.select_slider and not at.metric and not at.get("image")
