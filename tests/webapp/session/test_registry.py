"""session.registry without a page: results derived from a model are kept by the model object (never by an id()
a collected model leaves free), computed outside any lock, and counted in the entry's memory."""

import threading

import numpy as np
import pytest

from harness import PATIENCE
from mlp import MLP
from webapp.session import registry
from webapp.session.registry import PRETRAINED, ModelEntry, ModelKind
from webapp.training.memory import model_bytes

GUARD = 30  # seconds a test waits for what must happen at once, before it calls it held up


class Stub:
    """Stands in for an MLP: `derived` asks an entry for its current model and nothing else of it."""

    meta: dict = {}


def pretrained_entry(model):
    """A session's entry for the shared model (all_models makes one per call, each session its own)."""
    return ModelEntry(PRETRAINED, ModelKind.PRETRAINED, model=model, link_id="")


def at_the_address_of(old_id):
    """A new Stub at the address a collected object left free (CPython hands the freed memory out again)."""
    kept = []  # the misses stay alive, so each try gets another address
    for _ in range(10_000):
        stub = Stub()
        if id(stub) == old_id:
            return stub
        kept.append(stub)
    pytest.skip("this interpreter did not reuse the address")


@pytest.mark.parametrize("kind", [ModelKind.UPLOADED, ModelKind.PRETRAINED])
def test_a_new_model_never_gets_the_results_of_a_collected_one_that_had_its_id(kind):
    entry = ModelEntry("m", kind, model=Stub())
    assert registry.derived(entry, "what", lambda: "the first model's") == "the first model's"
    old_id = id(entry.model)
    entry.model = None  # the only reference: the model is freed now
    entry.model = at_the_address_of(old_id)
    assert id(entry.model) == old_id
    assert registry.derived(entry, "what", lambda: "the second model's") == "the second model's"


def test_a_slow_result_holds_up_no_other_session():
    model = Stub()
    first, second = pretrained_entry(model), pretrained_entry(model)  # two sessions, one shared model
    started, release, quick_done = threading.Event(), threading.Event(), threading.Event()
    got = {}

    def slow():
        started.set()
        release.wait(PATIENCE)
        return "slow"

    def ask_quick():
        got["quick"] = registry.derived(second, "quick", lambda: "quick")
        quick_done.set()

    slow_thread = threading.Thread(target=lambda: got.update(slow=registry.derived(first, "slow", slow)))
    slow_thread.start()
    assert started.wait(PATIENCE)
    quick_thread = threading.Thread(target=ask_quick)
    quick_thread.start()
    try:
        # A bound on a hang, not a timing: the quick result needs no more than a thread's start.
        assert quick_done.wait(GUARD), "a quick result waited for another session's slow one"
    finally:
        release.set()
        slow_thread.join(PATIENCE)
        quick_thread.join(PATIENCE)
    assert got == {"slow": "slow", "quick": "quick"}


def test_the_same_result_asked_twice_at_once_is_computed_once_and_shared():
    model = Stub()
    first, second = pretrained_entry(model), pretrained_entry(model)
    started, release = threading.Event(), threading.Event()
    calls, got = [], []

    def compute():
        calls.append(threading.current_thread().name)
        started.set()
        release.wait(PATIENCE)
        return np.arange(3)

    one = threading.Thread(target=lambda: got.append(registry.derived(first, "map", compute)), name="one")
    two = threading.Thread(target=lambda: got.append(registry.derived(second, "map", compute)), name="two")
    one.start()
    assert started.wait(PATIENCE)
    two.start()  # asks while the first computes: waits for that result rather than computing it again
    release.set()
    one.join(PATIENCE)
    two.join(PATIENCE)
    assert calls == ["one"] and len(got) == 2 and got[0] is got[1]
    assert registry.derived(pretrained_entry(model), "map", compute) is got[0]  # a third session too


def test_a_session_models_results_count_in_its_memory_and_go_when_its_model_changes():
    first = MLP([4, 3, 2], seed=0)
    entry = ModelEntry("m", ModelKind.UPLOADED, model=first)
    weights = model_bytes(first)
    assert entry.memory_bytes() == weights
    registry.derived(entry, "a", lambda: np.zeros(1000, np.uint8))
    registry.derived(entry, "b", lambda: (np.zeros(24, np.uint8), "label"))
    assert entry.memory_bytes() == weights + 1024
    entry.model = MLP([4, 3, 2], seed=1)  # e.g. a run's next epoch, while the first model lives on elsewhere
    registry.derived(entry, "a", lambda: np.zeros(10, np.uint8))
    assert entry.memory_bytes() == weights + 10  # the first model's results are let go
    assert registry.derived(entry, "a", lambda: np.zeros(99)).nbytes == 10 and first.layer_sizes == [4, 3, 2]


def test_an_entry_without_a_model_yet_is_refused():
    with pytest.raises(ValueError, match="no model"):
        registry.derived(ModelEntry("My model 1", ModelKind.TRAINED), "what", lambda: 1)
