"""session.results.ModelResults: kept per model object, computed outside the lock, once per (model, what). Pure."""

import gc
import threading

import numpy as np
import pytest

from harness import PATIENCE
from webapp.session.results import ModelResults

GUARD = 30  # seconds a test waits for what must happen at once, before it calls it held up


class Model:
    """Any object a result is derived from."""


def test_a_result_is_computed_once_per_model_and_label():
    results, calls = ModelResults(), []
    a, b = Model(), Model()

    def compute(value):
        calls.append(value)
        return value

    assert results.get(a, "x", lambda: compute(1)) == 1
    assert results.get(a, "x", lambda: compute(2)) == 1
    assert results.get(a, ("y", 3), lambda: compute(3)) == 3
    assert results.get(b, "x", lambda: compute(4)) == 4
    assert calls == [1, 3, 4] and len(results) == 3


def test_results_go_with_their_model():
    results, model = ModelResults(), Model()
    results.get(model, "x", lambda: np.zeros(100, np.uint8))
    assert results.nbytes == 100
    del model
    gc.collect()
    assert len(results) == 0 and results.nbytes == 0


def test_latest_only_lets_the_earlier_models_results_go_though_that_model_lives():
    results, first, second = ModelResults(latest_only=True), Model(), Model()
    results.get(first, "x", lambda: np.zeros(100, np.uint8))
    results.get(first, "y", lambda: (np.zeros(20, np.uint8), np.zeros(3, np.uint8), "label"))
    assert results.nbytes == 123
    assert results.get(second, "x", lambda: np.zeros(7, np.uint8)).nbytes == 7
    assert results.nbytes == 7 and len(results) == 1
    assert results.get(first, "x", lambda: "again") == "again"  # computed anew


def test_a_result_finished_after_a_later_model_was_asked_about_is_not_kept():
    results, first, second = ModelResults(latest_only=True), Model(), Model()
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(PATIENCE)
        return "first's"

    worker = threading.Thread(target=lambda: results.get(first, "x", slow))
    worker.start()
    assert started.wait(PATIENCE)
    assert results.get(second, "x", lambda: "second's") == "second's"
    release.set()
    worker.join(PATIENCE)
    assert len(results) == 1 and results.get(second, "x", lambda: "again") == "second's"


def test_other_labels_do_not_wait_for_a_slow_one_and_the_same_label_is_computed_once():
    results, model = ModelResults(), Model()
    started, release, quick_done = threading.Event(), threading.Event(), threading.Event()
    calls, got = [], []

    def slow():
        calls.append("slow")
        started.set()
        release.wait(PATIENCE)
        return "slow"

    first = threading.Thread(target=lambda: got.append(results.get(model, "slow", slow)))
    second = threading.Thread(target=lambda: got.append(results.get(model, "slow", slow)))
    first.start()
    assert started.wait(PATIENCE)
    second.start()  # the same label: waits for the first's result
    quick = threading.Thread(target=lambda: (results.get(model, "quick", lambda: "quick"), quick_done.set()))
    quick.start()
    try:
        assert quick_done.wait(GUARD), "another label waited for a slow computation"  # a hang's bound, not a timing
    finally:
        release.set()
        for t in (first, second, quick):
            t.join(PATIENCE)
    assert calls == ["slow"] and got == ["slow", "slow"]


def test_a_failed_computation_is_not_kept_and_a_waiting_caller_computes_it_itself():
    results, model = ModelResults(), Model()
    started, release = threading.Event(), threading.Event()

    def failing():
        started.set()
        release.wait(PATIENCE)
        raise OSError("no dataset")

    errors, got = [], []

    def first_caller():
        try:
            results.get(model, "x", failing)
        except OSError as e:
            errors.append(e)

    first = threading.Thread(target=first_caller)
    first.start()
    assert started.wait(PATIENCE)
    second = threading.Thread(target=lambda: got.append(results.get(model, "x", lambda: "computed by the second")))
    second.start()
    release.set()
    first.join(PATIENCE)
    second.join(PATIENCE)
    assert len(errors) == 1 and got == ["computed by the second"]
    assert results.get(model, "x", failing) == "computed by the second"


def test_a_computation_that_asks_for_its_own_result_fails_rather_than_waiting_for_itself():
    results, model = ModelResults(), Model()
    with pytest.raises(RuntimeError, match="asked for its own result"):
        results.get(model, "x", lambda: results.get(model, "x", lambda: 1))
    assert results.get(model, "x", lambda: 2) == 2  # nothing left half-done
    assert results.get(model, "y", lambda: results.get(model, "z", lambda: 3)) == 3  # another label is fine


def test_a_model_that_cannot_be_held_weakly_is_refused():
    with pytest.raises(TypeError):
        ModelResults().get(None, "x", lambda: 1)
