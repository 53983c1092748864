"""Background training jobs and the process-wide limit on concurrent runs."""

import os
import threading
import time
from functools import partial

import numpy as np
import pytest

from harness import PATIENCE
from mlp import TrainConfig, Trainer, TrainOutcome, build_model
from mlp.adapt import AdaptOutcome
from webapp.clients import Client
from webapp.session.budget import Budget
from webapp.training.job import TrainingJob
from webapp.training.memory import model_bytes, process_bytes
from webapp.training.protocol import JobState
from webapp.training.slots import TrainingSlots
from webapp.training.status import controls, status
from webapp.training.worker import WORKER_NICENESS, taught_state, trained_state


def blobs(n=4000, seed=0, scale=1.0):
    """Three Gaussian blobs in 20 dimensions; the worker process calls this to get its data."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.standard_normal((3, 20))[y] * 3 + rng.standard_normal((n, 20))).astype(np.float32)
    return x * np.float32(scale), y


def gated_blobs(n, path):
    """blobs(n) once the file `path` exists: a worker slow to load its data, until the test lets it go on."""
    deadline = time.monotonic() + PATIENCE
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return blobs(n)


def unreadable():
    """A loader whose files have gone: the worker fails to load its data."""
    raise FileNotFoundError("the dataset's files are gone")


def job(slots, epochs=3, finish=None, name="run", n=4000, alive=None, grace=30.0, data=None):
    config = TrainConfig(hidden=(64,), epochs=epochs, batch_size=16, seed=0)
    model = build_model(config, n_in=20, n_out=3)
    return TrainingJob(name, model, config, data or partial(blobs, n), slots=slots, finish=finish,
                       alive=alive, grace=grace)


class GatedSlots(TrainingSlots):
    """Training slots that hand one out only once `gate` is set: a busy server slow to start a run."""

    def __init__(self, limit=1):
        super().__init__(limit)
        self.gate = threading.Event()

    def acquire(self, job, cancelled):
        self.gate.wait(PATIENCE)
        return super().acquire(job, cancelled)


def wait(predicate, seconds=PATIENCE):
    """Wait until predicate() holds; fail after `seconds` (a hang guard: a busy machine gives the worker CPU late)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_job_runs_to_completion_and_finishes():
    scores = []
    j = job(TrainingSlots(1), finish=lambda m: (scores.append(1), m.meta.update(test_accuracy=0.5))).start()
    assert j.join(PATIENCE)
    assert j.state == "completed" and len(j.records) == 3
    assert scores == [1] and j.snapshot.meta["test_accuracy"] == 0.5
    assert j.progress() == 1.0 and j.eta_seconds() is None


def test_state_is_not_done_until_finish_has_run():
    gate = threading.Event()
    j = job(TrainingSlots(1), epochs=1, finish=lambda m: gate.wait(PATIENCE)).start()
    wait(lambda: j.state == "evaluating")
    assert not j.done
    gate.set()
    assert j.join(PATIENCE) and j.state == "completed"


def test_limit_queues_runs_in_order_and_reports_positions():
    slots = TrainingSlots(1)
    first = job(slots, epochs=200, name="a").start()
    wait(lambda: first.state == "running")
    second = job(slots, name="b").start()
    third = job(slots, name="c").start()
    wait(lambda: second.queue_position == 1 and third.queue_position == 2)
    assert slots.running == 1
    first.stop()
    wait(lambda: second.state != "queued")
    assert third.queue_position == 1
    assert second.join(PATIENCE) and third.join(PATIENCE)
    assert first.join(PATIENCE) and first.state == "stopped" and slots.running == 0


def test_stop_while_queued_leaves_the_line():
    slots = TrainingSlots(1)
    first = job(slots, epochs=200, name="a").start()
    wait(lambda: first.state == "running")
    waiting = job(slots, name="b").start()
    wait(lambda: waiting.queue_position == 1)
    waiting.stop()
    assert waiting.join(PATIENCE) and waiting.state == "stopped" and waiting.records == []
    first.stop()
    assert first.join(PATIENCE)


def test_stop_ends_the_run_and_keeps_finished_epochs():
    # How soon Stop answers is a speed target, not asserted with a clock here; that the trainer
    # honours a stop between batches, test_training.py checks without one.
    j = job(TrainingSlots(1), epochs=500, n=20000).start()
    wait(lambda: len(j.records) >= 1)
    j.stop()
    assert j.join(PATIENCE), "the run did not end after Stop"
    assert j.state == "stopped" and 1 <= len(j.records) < 500
    assert len(j.snapshot.meta["history"]) == len(j.records)


def test_two_runs_train_at_once_under_a_limit_of_two():
    slots = TrainingSlots(2)
    a = job(slots, epochs=200, name="a").start()
    b = job(slots, epochs=200, name="b").start()
    wait(lambda: a.state == "running" and b.state == "running")
    assert slots.running == 2
    a.stop(), b.stop()
    assert a.join(PATIENCE) and b.join(PATIENCE)


def test_same_seed_gives_the_same_model_as_training_in_process():
    from mlp import Trainer

    j = job(TrainingSlots(1), epochs=2).start()
    assert j.join(PATIENCE) and j.state == "completed"
    config = TrainConfig(hidden=(64,), epochs=2, batch_size=16, seed=0)
    local = build_model(config, n_in=20, n_out=3)
    list(Trainer(local, config, *blobs(4000)).run())
    for a, b in zip(local.get_weights(), j.model.get_weights()):
        assert np.array_equal(a, b)


def test_a_worker_that_cannot_load_its_data_fails_cleanly():
    config = TrainConfig(hidden=(8,), epochs=1, seed=0)
    j = TrainingJob("x", build_model(config, n_in=20, n_out=3), config, unreadable,
                    slots=TrainingSlots(1)).start()
    assert j.join(PATIENCE)
    assert j.state == "failed" and "dataset's files are gone" in j.error and j.records == []


def test_a_loader_that_cannot_travel_to_the_worker_fails_cleanly():
    """The worker is handed its loader pickled by reference: a top-level function, never a lambda."""
    config = TrainConfig(hidden=(8,), epochs=1, seed=0)
    j = TrainingJob("x", build_model(config, n_in=20, n_out=3), config, lambda: blobs(100),
                    slots=TrainingSlots(1)).start()
    assert j.join(PATIENCE)
    assert j.state == "failed" and "training could not run" in j.error and j.records == [] and j.model is None


def test_failure_is_reported_not_raised():
    def broken(model):
        raise RuntimeError("disk on fire")

    j = job(TrainingSlots(1), epochs=1, finish=broken).start()
    assert j.join(PATIENCE)
    assert j.state == "completed" and "disk on fire" in j.error


def test_divergence_is_reported():
    config = TrainConfig(hidden=(16,), epochs=3, optimizer="sgd", lr=1e4, batch_size=16, seed=0)
    data = partial(blobs, 4000, 0, 1e3)
    j = TrainingJob("d", build_model(config, n_in=20, n_out=3), config, data, slots=TrainingSlots(1)).start()
    assert j.join(PATIENCE)
    assert j.state == "diverged" and "smaller learning rate" in j.error


def test_bad_limit():
    with pytest.raises(ValueError, match="at least 1, got 0"):
        TrainingSlots(0)


def test_a_run_whose_owner_left_stops_and_frees_its_slot():
    slots = TrainingSlots(1)
    present = threading.Event()
    present.set()
    # alive: the owner's tab, as the Train page wires it with state.session_alive()
    j = job(slots, epochs=500, n=20000, alive=present.is_set, grace=0.3).start()
    wait(lambda: len(j.records) >= 1)
    present.clear()  # the tab closes
    assert j.join(PATIENCE), "an orphaned run kept training"
    assert j.state == "stopped" and j.orphaned and slots.running == 0


def test_a_short_absence_does_not_stop_the_run():
    seen = {"calls": 0}

    def flaky():
        seen["calls"] += 1
        return seen["calls"] % 3 != 0  # gone now and then, never for long

    j = job(TrainingSlots(1), epochs=2, alive=flaky, grace=5.0)
    assert j.start().join(PATIENCE)
    assert j.state == "completed" and not j.orphaned


def test_stop_during_evaluation_still_finishes_cleanly():
    gate = threading.Event()
    finish = lambda m: (gate.wait(PATIENCE), m.meta.update(test_accuracy=0.9))  # noqa: E731
    j = job(TrainingSlots(1), epochs=1, finish=finish).start()
    wait(lambda: j.state == "evaluating")
    j.stop()
    gate.set()
    assert j.join(PATIENCE)
    assert j.state == "completed" and j.snapshot.meta["test_accuracy"] == 0.9


def test_stop_during_the_first_epoch_leaves_no_model():
    j = job(TrainingSlots(1), epochs=5, n=40000).start()
    wait(lambda: j.state == "running" and j.batch_progress[0] > 0)
    j.stop()
    assert j.join(PATIENCE)
    assert j.state == "stopped" and j.records == [] and j.snapshot is None


def test_pause_holds_after_an_epoch_frees_the_slot_and_resume_goes_on():
    slots = TrainingSlots(1)
    j = job(slots, epochs=300, n=2000).start()
    wait(lambda: len(j.records) >= 1)
    j.pause()
    assert j.pause_requested
    wait(lambda: j.state == "paused")
    held = len(j.records)
    assert slots.running == 0  # a paused run uses no CPU and gives its slot back
    assert j.eta_seconds() is None
    time.sleep(1.0)
    assert len(j.records) == held  # nothing trains while paused
    j.resume()
    wait(lambda: j.state == "running" and len(j.records) > held + 1)
    assert slots.running == 1 and j.paused_seconds >= 1.0
    assert j.eta_seconds() is not None
    j.stop()
    assert j.join(PATIENCE) and j.state == "stopped"


def test_a_runs_worker_counts_in_its_memory_while_it_lives_paused_too():
    """The budget reads memory_bytes(): a live worker (training or paused) adds its resident memory, measured."""
    j = job(TrainingSlots(1), epochs=300, n=2000).start()
    wait(lambda: len(j.records) >= 1)
    weights = model_bytes(j.model) + model_bytes(j.snapshot)
    assert j.memory_bytes() > weights + 20 * 2**20  # Python and NumPy in the worker: tens of MB
    j.pause()
    wait(lambda: j.state == "paused")
    assert process_bytes(j.worker_pid) > 20 * 2**20 and j.memory_bytes() > weights + 20 * 2**20
    j.stop()
    assert j.join(PATIENCE) and j.state == "stopped"
    assert j.memory_bytes() < weights + 2**20  # the worker has gone: its model and snapshot (and kept epochs)


def test_a_run_starts_its_worker_only_when_the_worker_fits_in_memory():
    """A paused run keeps its worker: the next run's worker waits, in line, until memory is given back."""
    room = threading.Event()
    slots = TrainingSlots(2, room=lambda need: room.is_set() or need == 0)
    first = job(slots, epochs=300, n=2000, name="first").start()
    wait(lambda: first.state == "queued" and slots.short_of_memory)
    assert first.memory_bytes() < first.worker_estimate  # not counted while it waits
    assert status(first.view()).text.startswith("Next in line: waiting for memory on the server")
    room.set()
    wait(lambda: len(first.records) >= 1)
    assert first.memory_bytes() >= first.worker_estimate  # its worker counts from its slot on
    first.pause()
    wait(lambda: first.state == "paused")
    room.clear()
    second = job(slots, epochs=3, n=2000, name="second").start()
    time.sleep(1.0)  # a slot is free, memory is not: nothing starts meanwhile
    assert second.state == "queued" and second.view().short_of_memory and slots.running == 0
    first.resume()  # its worker is already counted: it needs no more room to go on
    wait(lambda: first.state == "running")
    first.stop()
    assert first.join(PATIENCE) and first.memory_bytes() < first.worker_estimate  # its worker has gone
    room.set()
    assert second.join(PATIENCE) and second.state == "completed"


def test_a_page_reading_the_run_while_it_takes_its_slot_back_never_deadlocks():
    """view() holds the job's lock and asks the slots for a place in line; taking a slot (the slots' lock)
    must not need the job's lock in turn (it did once: Resume hung with a page polling the run)."""
    budget = Budget(total=2**40, per_client=2**40, per_address=2**40)
    slots = TrainingSlots(1, room=budget.fits)  # as the app's: it asks every run held for its memory
    j = budget.track(job(slots, epochs=300, n=2000), Client("c" * 22, "203.0.113.1", False)).start()
    wait(lambda: len(j.records) >= 1)
    stop_reading = threading.Event()

    def read():
        while not stop_reading.is_set():
            j.view()

    readers = [threading.Thread(target=read, daemon=True) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        for _ in range(3):
            j.pause()
            wait(lambda: j.state == "paused")
            j.resume()
            wait(lambda: j.state == "running")
    finally:
        stop_reading.set()
        j.stop()
    assert j.join(PATIENCE)


def test_a_paused_run_waits_for_a_slot_to_resume():
    slots = TrainingSlots(1)
    first = job(slots, epochs=300, n=2000, name="a").start()
    wait(lambda: len(first.records) >= 1)
    first.pause()
    wait(lambda: first.state == "paused")
    second = job(slots, epochs=300, n=2000, name="b").start()
    wait(lambda: second.state == "running")  # the freed slot lets the next run train
    first.resume()
    wait(lambda: first.state == "queued" and first.queue_position == 1)
    second.stop()
    assert second.join(PATIENCE)
    wait(lambda: first.state == "running")
    first.stop()
    assert first.join(PATIENCE) and first.state == "stopped"


def test_stop_while_paused_or_while_queued_to_resume_ends_the_run():
    slots = TrainingSlots(1)
    j = job(slots, epochs=300, n=2000).start()
    wait(lambda: len(j.records) >= 1)
    j.pause()
    wait(lambda: j.state == "paused")
    j.stop()
    assert j.join(PATIENCE) and j.state == "stopped" and len(j.records) >= 1

    blocker = job(slots, epochs=300, n=2000, name="blocker")
    k = job(slots, epochs=300, n=2000, name="k").start()
    wait(lambda: len(k.records) >= 1)
    k.pause()
    wait(lambda: k.state == "paused")
    blocker.start()
    wait(lambda: blocker.state == "running")
    k.resume()
    wait(lambda: k.state == "queued")
    k.stop()
    assert k.join(PATIENCE) and k.state == "stopped"
    blocker.stop()
    assert blocker.join(PATIENCE)


def test_a_pause_crossing_a_resume_or_the_last_epoch_changes_nothing():
    slots = TrainingSlots(1)
    j = job(slots, epochs=300, n=2000).start()
    wait(lambda: len(j.records) >= 1)
    for _ in range(20):  # pause and resume at once, over and over: the run never stays paused
        j.pause()
        j.resume()
    n = len(j.records)
    wait(lambda: len(j.records) > n + 2)
    assert j.state == "running" and slots.running == 1
    j.stop()
    assert j.join(PATIENCE)
    last = job(slots, epochs=2, n=2000).start()
    wait(lambda: len(last.records) >= 1)
    last.pause()  # during the last epoch: the run completes instead of pausing
    assert last.join(PATIENCE) and last.state == "completed"


def test_a_paused_run_whose_owner_left_stops():
    here = threading.Event()
    here.set()
    j = job(TrainingSlots(1), epochs=300, n=2000, alive=here.is_set, grace=0.5).start()
    wait(lambda: len(j.records) >= 1)
    j.pause()
    wait(lambda: j.state == "paused")
    here.clear()  # the tab closes while paused
    assert j.join(PATIENCE) and j.state == "stopped" and j.orphaned


def test_states_are_named_and_still_compare_as_strings():
    assert JobState.RUNNING == "running" and f"{JobState.EARLY_STOPPED}" == "early_stopped"
    assert {s for s in JobState if s.done} == set(TrainingJob.DONE) == {
        "completed", "stopped", "early_stopped", "diverged", "failed"}
    j = job(TrainingSlots(1), epochs=1, finish=lambda m: m.meta.update(test_accuracy=0.75)).start()
    assert j.join(PATIENCE)
    v = j.view()
    assert v.state is JobState.COMPLETED and v.done and v.epochs_done == 1 and v.test_accuracy == 0.75
    assert status(v).text == "Finished 1 epoch. Test accuracy **75.00%**."


def test_every_way_a_trainer_or_teaching_ends_has_its_own_state():
    assert [trained_state(o) for o in TrainOutcome] == [
        JobState.COMPLETED, JobState.STOPPED, JobState.EARLY_STOPPED, JobState.DIVERGED]
    assert [taught_state(o) for o in AdaptOutcome] == [JobState.COMPLETED, JobState.STOPPED]


def test_a_pause_asked_for_while_queued_takes_effect_after_the_first_epoch():
    slots = TrainingSlots(1)
    first = job(slots, epochs=300, n=2000, name="a").start()
    wait(lambda: first.state == "running")
    second = job(slots, epochs=300, n=2000, name="b").start()
    wait(lambda: second.queue_position == 1)
    assert controls(second).pause  # offered while queued...
    second.pause()
    v = second.view()
    assert v.state is JobState.QUEUED and v.queue_position == 1 and v.pause_requested
    assert controls(v).resume and status(v).text == "Waiting for a free training slot: number 1 in line."
    first.stop()
    assert first.join(PATIENCE)
    wait(lambda: second.state == "paused")  # ...and honoured once the slot frees
    assert len(second.records) == 1 and slots.running == 0
    time.sleep(0.5)
    assert len(second.records) == 1
    second.resume()
    wait(lambda: len(second.records) >= 3)
    second.pause()
    wait(lambda: second.state == "paused")
    second.stop()  # stop while paused
    assert second.join(PATIENCE) and second.state == "stopped"
    assert len(second.snapshot.meta["history"]) == len(second.records)


def test_pause_is_offered_and_honoured_while_the_run_is_slow_to_start(tmp_path):
    # On a busy server the page's rerun after Start sees the run before it trains: the slot
    # is slow to come (GatedSlots) and then the worker is slow to load its data (gated_blobs).
    slots, loaded = GatedSlots(1), tmp_path / "the data may load"
    j = job(slots, epochs=300, data=partial(gated_blobs, 2000, str(loaded))).start()
    v = j.view()
    assert v.state is JobState.QUEUED and not v.done
    assert controls(v).pause, "Pause must be offered before the run trains"
    slots.gate.set()
    wait(lambda: j.state == "running")
    assert not j.records and controls(j).pause
    j.pause()
    assert controls(j).resume
    loaded.touch()
    wait(lambda: j.state == "paused")
    assert len(j.records) == 1
    j.stop()
    assert j.join(PATIENCE) and j.state == "stopped"


def test_a_pause_asked_for_again_while_queued_to_resume_keeps_the_run_paused():
    slots = TrainingSlots(1)
    a = job(slots, epochs=300, n=2000, name="a").start()
    wait(lambda: len(a.records) >= 1)
    a.pause()
    wait(lambda: a.state == "paused")
    b = job(slots, epochs=500, n=20000, name="b").start()
    wait(lambda: b.state == "running")
    a.resume()
    wait(lambda: a.state == "queued")
    a.pause()
    wait(lambda: a.state == "paused")
    assert b.state == "running"  # a left the line; it did not wait for b's slot (b trains 500 long epochs)
    held = len(a.records)
    b.stop()
    assert b.join(PATIENCE)
    time.sleep(0.5)  # the freed slot does not wake a run paused again
    assert a.state == "paused" and len(a.records) == held and slots.running == 0
    a.resume()
    wait(lambda: len(a.records) > held)
    a.stop()
    assert a.join(PATIENCE) and a.state == "stopped"


def test_a_run_in_the_worker_matches_training_in_process_bit_for_bit_with_dropout():
    # The worker gets the model as file bytes; loading them alone would seed dropout with 0,
    # so it rebuilds the model with the run's seed, as build_model did here.
    config = TrainConfig(hidden=(32,), dropout=0.3, epochs=2, batch_size=32, val_fraction=0.1, seed=7)
    model = build_model(config, n_in=20, n_out=3)
    local = build_model(config, n_in=20, n_out=3)
    j = TrainingJob("d", model, config, partial(blobs, 2000), slots=TrainingSlots(1)).start()
    list(Trainer(local, config, *blobs(2000)).run())
    assert j.join(PATIENCE) and j.state == "completed"
    for a, b in zip(local.get_weights(), j.model.get_weights(), strict=True):
        assert np.array_equal(a, b)
    assert j.model.meta["history"][-1]["train_loss"] == local.meta["history"][-1]["train_loss"]


def _worker_pids():
    """The webapp.training.worker processes this test process started."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"webapp.training.worker" in cmdline:
            pids.append(int(entry))
    return pids


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling classes")
def test_the_worker_trains_only_on_cpu_time_the_server_leaves(tmp_path):
    loaded = tmp_path / "the data may load"  # until then the worker waits, alive, for us to look at it
    j = job(TrainingSlots(1), epochs=2, data=partial(gated_blobs, 4000, str(loaded))).start()
    try:
        wait(lambda: _worker_pids())
        pid = _worker_pids()[0]

        def threads():
            return [int(t) for t in os.listdir(f"/proc/{pid}/task")]

        # Set first thing in the worker, after Python's start-up; the threads it starts after that
        # (the command reader, OpenBLAS's when numpy is imported) inherit it.
        wait(lambda: os.sched_getscheduler(pid) == os.SCHED_IDLE and len(threads()) > 1)
        assert all(os.sched_getscheduler(t) == os.SCHED_IDLE for t in threads())
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, os.nice(0) + WORKER_NICENESS)  # nice is relative
    finally:
        loaded.touch()
        j.stop()
        j.join(PATIENCE)
