"""Training jobs on the task engine: fair turns, pause, stop, failures, and the engine's workers."""

import os
import signal
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
from webapp.training import engine as engines
from webapp.training import relay
from webapp.training.job import TrainingJob
from webapp.training.memory import model_bytes, state_bytes
from webapp.training.protocol import JobState
from webapp.training.status import controls, status
from webapp.training.tasks import WORKER_NICENESS, taught_state, trained_state


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


_started: list[TrainingJob] = []


@pytest.fixture(autouse=True)
def _stop_leftover_runs():
    """The engines outlive a test (one per process, as in a server): a test's runs must not train on into
    the next test's turns."""
    yield
    for j in _started:
        j.stop()
    for j in _started:
        j.join(PATIENCE)
    _started.clear()


def one_worker():
    """An engine embedded here with one worker: runs take turns on it."""
    return engines.shared(workers=1)


def job(engine=None, epochs=3, finish=None, name="run", n=4000, alive=None, grace=30.0, data=None, config=None):
    config = config or TrainConfig(hidden=(64,), epochs=epochs, batch_size=16, seed=0)
    model = build_model(config, n_in=20, n_out=3)
    j = TrainingJob(name, model, config, data or partial(blobs, n), engine=engine or one_worker(), finish=finish,
                    alive=alive, grace=grace)
    _started.append(j)
    return j


def gate(tmp_path, name="gate"):
    """A file path that holds a gated_blobs run in its first task until it exists; the run's loader."""
    path = tmp_path / name
    return path, partial(gated_blobs, 2000, str(path))


def wait(predicate, seconds=PATIENCE):
    """Wait until predicate() holds; fail after `seconds` (a hang guard: a busy machine gives the worker CPU late)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_job_runs_to_completion_and_finishes():
    scores = []
    j = job(finish=lambda m: (scores.append(1), m.meta.update(test_accuracy=0.5))).start()
    assert j.join(PATIENCE)
    assert j.state == "completed" and len(j.records) == 3 and j.error is None
    assert scores == [1] and j.snapshot.meta["test_accuracy"] == 0.5
    assert j.progress() == 1.0 and j.eta_seconds() is None
    assert [r["epoch"] for r in j.model.meta["history"]] == [1, 2, 3]


def test_state_is_not_done_until_finish_has_run():
    gate_ = threading.Event()
    j = job(epochs=1, finish=lambda m: gate_.wait(PATIENCE)).start()
    wait(lambda: j.state == "evaluating")
    assert not j.done
    gate_.set()
    assert j.join(PATIENCE) and j.state == "completed"


def test_runs_that_came_later_get_their_first_epoch_before_an_earlier_run_goes_on(tmp_path, monkeypatch):
    """Fair turns: one worker, a long run under way; runs started later each train an epoch before the long
    run's next one (the engine runs the waiting task of highest priority: minus the epochs a run has done).
    One-epoch slices here, so that turns can be counted in epochs."""
    monkeypatch.setattr(relay, "SLICE_SECONDS", 0.0)
    path, held = gate(tmp_path)
    first = job(epochs=300, name="first", data=held).start()
    wait(lambda: first.state == "running")  # its first task holds the one worker until the gate opens
    later = [job(epochs=300, name=f"later{i}").start() for i in range(4)]
    # Each run's relay thread submits its first task: the line is in the order they did, which a busy machine
    # may make other than the order of start().
    wait(lambda: sorted(j.queue_position or 0 for j in later) == [1, 2, 3, 4])
    v = next(v for v in (j.view() for j in later) if v.queue_position == 2)
    assert v.state is JobState.QUEUED and status(v).text.startswith(
        "Waiting for a turn on the training workers: number 2 in line.")
    path.touch()
    wait(lambda: all(j.records for j in later))
    # first's next slice was submitted with a lower priority than every later run's first one
    assert len(first.records) <= 2, [len(j.records) for j in (first, *later)]
    wait(lambda: all(len(j.records) >= 3 for j in (first, *later)))
    counts = [len(j.records) for j in (first, *later)]
    assert max(counts) - min(counts) <= 2, counts  # turns alternate: nobody races ahead


def test_a_waiting_run_shows_an_estimate_once_a_slice_was_timed(tmp_path):
    warm = job(epochs=2).start()
    assert warm.join(PATIENCE)  # the engine has timed slices now
    path, held = gate(tmp_path)
    first = job(epochs=300, name="first", data=held).start()
    wait(lambda: first.state == "running")
    second = job(epochs=3, name="second").start()
    wait(lambda: second.queue_position == 1)
    v = second.view()
    assert v.wait_seconds is not None and 0 < v.wait_seconds < 60
    assert "Starts in about" in status(v).text
    path.touch()
    assert second.join(PATIENCE) and second.state == "completed"
    first.stop()
    assert first.join(PATIENCE)


def test_a_task_cancelled_by_someone_else_fails_the_run_with_a_message(tmp_path, monkeypatch):
    """A task cancelled not by Stop (a client closing cancels its futures: deploy/'s scheduler restarts) fails the
    run with "try again in a moment", not with the UnboundLocalError Dask's waiting result() can turn it into."""
    engine = one_worker()
    futures = []
    submit = engine.submit

    def kept(*args, **kwargs):
        futures.append(submit(*args, **kwargs))
        return futures[-1]

    monkeypatch.setattr(engine, "submit", kept)
    path, held = gate(tmp_path)
    j = job(engine, epochs=5, data=held).start()
    wait(lambda: j.state == "running")
    futures[0].cancel()
    assert j.join(PATIENCE)
    path.touch()  # the task under way goes on until its data arrives: let it end
    assert j.state == "failed" and "try again in a moment" in j.error, (j.state, j.error)
    assert j.model is None


def test_stop_while_queued_leaves_the_line(tmp_path):
    path, held = gate(tmp_path)
    first = job(epochs=200, name="a", data=held).start()
    wait(lambda: first.state == "running")
    waiting = job(name="b").start()
    wait(lambda: waiting.queue_position == 1)
    waiting.stop()
    assert waiting.join(PATIENCE) and waiting.state == "stopped" and waiting.records == []
    assert one_worker().line.position(waiting) is None and waiting.model is None
    path.touch()
    first.stop()
    assert first.join(PATIENCE)


def test_stop_ends_the_run_and_keeps_finished_epochs():
    # How soon Stop answers is a speed target, not asserted with a clock here; that the trainer
    # honours a stop between batches, test_training.py checks without one.
    j = job(epochs=500, n=20000).start()
    wait(lambda: len(j.records) >= 1)
    j.stop()
    assert j.join(PATIENCE), "the run did not end after Stop"
    assert j.state == "stopped" and 1 <= len(j.records) < 500
    assert len(j.snapshot.meta["history"]) == len(j.records)


def test_two_runs_train_at_once_on_two_workers(tmp_path):
    engine = engines.shared(workers=2)
    path_a, held_a = gate(tmp_path, "a")
    path_b, held_b = gate(tmp_path, "b")
    a = job(engine, epochs=200, name="a", data=held_a).start()
    b = job(engine, epochs=200, name="b", data=held_b).start()
    wait(lambda: a.state == "running" and b.state == "running")  # both tasks under way at once
    assert len(engine.client().nthreads()) == 2
    path_a.touch(), path_b.touch()
    a.stop(), b.stop()
    assert a.join(PATIENCE) and b.join(PATIENCE)


def test_same_seed_gives_the_same_model_as_training_in_process():
    j = job(epochs=2).start()
    assert j.join(PATIENCE) and j.state == "completed"
    config = TrainConfig(hidden=(64,), epochs=2, batch_size=16, seed=0)
    local = build_model(config, n_in=20, n_out=3)
    list(Trainer(local, config, *blobs(4000)).run())
    for a, b in zip(local.get_weights(), j.model.get_weights()):
        assert np.array_equal(a, b)


def test_a_worker_that_cannot_load_its_data_fails_cleanly():
    config = TrainConfig(hidden=(8,), epochs=1, seed=0)
    j = job(config=config, data=unreadable).start()
    assert j.join(PATIENCE)
    assert j.state == "failed" and "dataset's files are gone" in j.error and j.records == []
    assert j.model is None


class Unpicklable:
    """A loader that cannot be sent to the engine."""

    def __call__(self):
        return blobs(100)

    def __reduce__(self):
        raise TypeError("this loader stays here")


def test_a_loader_that_cannot_travel_to_the_engine_fails_cleanly():
    config = TrainConfig(hidden=(8,), epochs=1, seed=0)
    j = job(config=config, data=Unpicklable()).start()
    assert j.join(PATIENCE)
    assert j.state == "failed" and "could not serialize" in j.error.lower() and j.records == [] and j.model is None


def test_failure_is_reported_not_raised():
    def broken(model):
        raise RuntimeError("disk on fire")

    j = job(epochs=1, finish=broken).start()
    assert j.join(PATIENCE)
    assert j.state == "completed" and "disk on fire" in j.error


def test_divergence_is_reported():
    config = TrainConfig(hidden=(16,), epochs=3, optimizer="sgd", lr=1e4, batch_size=16, seed=0)
    j = job(config=config, data=partial(blobs, 4000, 0, 1e3)).start()
    assert j.join(PATIENCE)
    assert j.state == "diverged" and "smaller learning rate" in j.error


def test_early_stopping_ends_the_run_with_the_best_epochs_weights():
    config = TrainConfig(hidden=(64,), epochs=300, batch_size=16, patience=1, val_fraction=0.2, lr=0.5, seed=0)
    j = job(config=config, n=600).start()
    assert j.join(PATIENCE) and j.state == "early_stopped" and len(j.records) < 300
    local = build_model(config, n_in=20, n_out=3)
    trainer = Trainer(local, config, *blobs(600))
    list(trainer.run())
    assert trainer.outcome is TrainOutcome.EARLY_STOPPED and len(trainer.history) == len(j.records)
    for a, b in zip(local.get_weights(), j.model.get_weights(), strict=True):
        assert np.array_equal(a, b)


def test_an_engine_needs_a_worker():
    with pytest.raises(ValueError, match="at least one worker, got 0"):
        engines.Engine(workers=0)


def test_an_engine_that_cannot_be_reached_fails_the_run_with_a_message():
    engine = engines.Engine("tcp://127.0.0.1:9")  # nothing listens on the discard port
    try:
        j = job(engine, epochs=1).start()
        assert j.join(PATIENCE)
        assert j.state == "failed" and "could not be reached" in j.error and "127.0.0.1:9" in j.error
    finally:
        engine.close()


def test_a_run_whose_owner_left_stops():
    present = threading.Event()
    present.set()
    # alive: the owner's tab, as the Train page wires it with state.session_alive()
    j = job(epochs=500, n=20000, alive=present.is_set, grace=0.3).start()
    wait(lambda: len(j.records) >= 1)
    present.clear()  # the tab closes
    assert j.join(PATIENCE), "an orphaned run kept training"
    assert j.state == "stopped" and j.orphaned


def test_a_short_absence_does_not_stop_the_run():
    seen = {"calls": 0}

    def flaky():
        seen["calls"] += 1
        return seen["calls"] % 3 != 0  # gone now and then, never for long

    j = job(epochs=2, alive=flaky, grace=5.0)
    assert j.start().join(PATIENCE)
    assert j.state == "completed" and not j.orphaned


def test_stop_during_evaluation_still_finishes_cleanly():
    gate_ = threading.Event()
    finish = lambda m: (gate_.wait(PATIENCE), m.meta.update(test_accuracy=0.9))  # noqa: E731
    j = job(epochs=1, finish=finish).start()
    wait(lambda: j.state == "evaluating")
    j.stop()
    gate_.set()
    assert j.join(PATIENCE)
    assert j.state == "completed" and j.snapshot.meta["test_accuracy"] == 0.9


def test_stop_during_the_first_epoch_leaves_no_model(tmp_path):
    path, held = gate(tmp_path)
    j = job(epochs=5, data=held).start()
    wait(lambda: j.state == "running")  # its task has started: Stop now reaches it through the engine
    j.stop()
    wait(lambda: j.stop_sent)
    path.touch()  # it loads its data and stops at its first batch
    assert j.join(PATIENCE)
    assert j.state == "stopped" and j.records == [] and j.snapshot is None and j.model is None


def test_pause_holds_after_an_epoch_holds_no_worker_and_resume_goes_on():
    j = job(epochs=300, n=2000).start()
    wait(lambda: len(j.records) >= 1)
    j.pause()
    assert j.pause_requested
    wait(lambda: j.state == "paused")
    held = len(j.records)
    assert j.eta_seconds() is None
    other = job(epochs=5, name="other").start()  # the one worker is free: another run trains meanwhile
    assert other.join(PATIENCE) and other.state == "completed"
    time.sleep(0.5)
    assert len(j.records) == held  # nothing trains while paused
    j.resume()
    wait(lambda: j.state == "running" and len(j.records) > held + 1)
    assert j.paused_seconds >= 0.5 and j.eta_seconds() is not None
    j.stop()
    assert j.join(PATIENCE) and j.state == "stopped"


def test_a_runs_state_between_epochs_counts_in_its_memory():
    """The budget reads memory_bytes(): between slices the server holds the run's state (weights, Adam's two
    moments), measured, within the estimate Start admits a run by."""
    config = TrainConfig(hidden=(256,), epochs=300, batch_size=16, optimizer="adam", seed=0)
    j = job(config=config, n=2000).start()
    wait(lambda: len(j.records) >= 1 and j.state_bytes)
    weights = sum(w.nbytes for w in j.model.get_weights())
    assert 3 * weights <= j.state_bytes <= state_bytes(j.model.layer_sizes) + 2**16  # + the .npz's headers
    models = model_bytes(j.model) + model_bytes(j.snapshot)
    assert j.memory_bytes() >= models + j.state_bytes
    j.stop()
    assert j.join(PATIENCE) and j.state == "stopped" and j.state_bytes is None
    assert j.memory_bytes() < models + 2**20  # its model and snapshot (and kept epochs)


def test_a_page_reading_the_run_while_it_pauses_and_resumes_never_deadlocks():
    budget = Budget(total=2**40, per_client=2**40, per_address=2**40)
    j = budget.track(job(epochs=300, n=2000), Client("c" * 22, "203.0.113.1", False)).start()
    wait(lambda: len(j.records) >= 1)
    stop_reading = threading.Event()

    def read():
        while not stop_reading.is_set():
            j.view(), budget.usage(Client("c" * 22, "203.0.113.1", False))

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


def test_a_running_run_says_how_many_others_take_turns_with_it(tmp_path):
    path, held = gate(tmp_path)
    blocker = job(epochs=300, name="blocker", data=held).start()
    wait(lambda: blocker.state == "running")
    runs = [job(epochs=300, name=f"r{i}").start() for i in range(3)]
    wait(lambda: all(r.queue_position for r in runs))
    path.touch()
    wait(lambda: any(r.view().state is JobState.RUNNING and r.view().sharing for r in runs))
    v = next(v for v in (r.view() for r in runs) if v.state is JobState.RUNNING and v.sharing)
    assert "taking turns with" in status(v).text


def test_stop_while_paused_ends_the_run():
    j = job(epochs=300, n=2000).start()
    wait(lambda: len(j.records) >= 1)
    j.pause()
    wait(lambda: j.state == "paused")
    j.stop()
    assert j.join(PATIENCE) and j.state == "stopped" and len(j.records) >= 1


def test_a_pause_crossing_a_resume_or_the_last_epoch_changes_nothing():
    j = job(epochs=300, n=2000).start()
    wait(lambda: len(j.records) >= 1)
    for _ in range(20):  # pause and resume at once, over and over: the run never stays paused
        j.pause()
        j.resume()
    n = len(j.records)
    wait(lambda: len(j.records) > n + 2)
    assert j.state == "running"
    j.stop()
    assert j.join(PATIENCE)
    last = job(epochs=2, n=2000).start()
    wait(lambda: len(last.records) >= 1)
    last.pause()  # during the last epoch: the run completes instead of pausing
    assert last.join(PATIENCE) and last.state in ("completed", "paused")
    if last.state == "paused":  # the pause came between the two epochs
        last.resume()
        assert last.join(PATIENCE)
    assert last.state == "completed"


def test_a_paused_run_whose_owner_left_stops():
    here = threading.Event()
    here.set()
    j = job(epochs=300, n=2000, alive=here.is_set, grace=0.5).start()
    wait(lambda: len(j.records) >= 1)
    j.pause()
    wait(lambda: j.state == "paused")
    here.clear()  # the tab closes while paused
    assert j.join(PATIENCE) and j.state == "stopped" and j.orphaned


def test_states_are_named_and_still_compare_as_strings():
    assert JobState.RUNNING == "running" and f"{JobState.EARLY_STOPPED}" == "early_stopped"
    assert {s for s in JobState if s.done} == set(TrainingJob.DONE) == {
        "completed", "stopped", "early_stopped", "diverged", "failed"}
    j = job(epochs=1, finish=lambda m: m.meta.update(test_accuracy=0.75)).start()
    assert j.join(PATIENCE)
    v = j.view()
    assert v.state is JobState.COMPLETED and v.done and v.epochs_done == 1 and v.test_accuracy == 0.75
    assert status(v).text == "Finished 1 epoch. Test accuracy **75.00%**."


def test_every_way_a_trainer_or_teaching_ends_has_its_own_state():
    assert [trained_state(o) for o in TrainOutcome] == [
        JobState.COMPLETED, JobState.STOPPED, JobState.EARLY_STOPPED, JobState.DIVERGED]
    assert [taught_state(o) for o in AdaptOutcome] == [JobState.COMPLETED, JobState.STOPPED]


def test_a_pause_asked_for_while_queued_takes_effect_after_the_first_epoch(tmp_path):
    path, held = gate(tmp_path)
    first = job(epochs=300, n=2000, name="a", data=held).start()
    wait(lambda: first.state == "running")
    second = job(epochs=300, n=2000, name="b").start()
    wait(lambda: second.queue_position == 1)
    assert controls(second).pause  # offered while queued...
    second.pause()
    v = second.view()
    assert v.state is JobState.QUEUED and v.queue_position == 1 and v.pause_requested
    assert controls(v).resume
    path.touch()
    first.stop()
    assert first.join(PATIENCE)
    wait(lambda: second.state == "paused")  # ...and honoured after its first epoch
    assert len(second.records) == 1
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
    # On a busy server the page's rerun after Start sees the run before it trains: its task waits for
    # the engine, then the worker is slow to load its data (gated_blobs).
    path, held = gate(tmp_path)
    j = job(epochs=300, data=held).start()
    v = j.view()
    assert v.state is JobState.QUEUED and not v.done
    assert controls(v).pause, "Pause must be offered before the run trains"
    wait(lambda: j.state == "running")
    assert not j.records and controls(j).pause
    j.pause()
    assert controls(j).resume
    path.touch()
    wait(lambda: j.state == "paused")
    assert len(j.records) == 1
    j.stop()
    assert j.join(PATIENCE) and j.state == "stopped"


def test_a_run_on_the_engine_matches_training_in_process_bit_for_bit_with_dropout():
    # The first task gets the model as file bytes; loading them alone would seed dropout with 0,
    # so it rebuilds the model with the run's seed, as build_model did here. Later tasks get the
    # run's state (mlp.resume), random streams included.
    config = TrainConfig(hidden=(32,), dropout=0.3, epochs=4, batch_size=32, val_fraction=0.1, seed=7)
    local = build_model(config, n_in=20, n_out=3)
    j = job(config=config, data=partial(blobs, 2000)).start()
    list(Trainer(local, config, *blobs(2000)).run())
    assert j.join(PATIENCE) and j.state == "completed"
    for a, b in zip(local.get_weights(), j.model.get_weights(), strict=True):
        assert np.array_equal(a, b)
    assert j.model.meta["history"][-1]["train_loss"] == local.meta["history"][-1]["train_loss"]


def _engine_task_threads(engine):
    """{worker pid: [thread ids]} of the engine's worker processes."""
    pids = engine.client().run(os.getpid)
    return {pid: [int(t) for t in os.listdir(f"/proc/{pid}/task")] for pid in pids.values()}


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="Linux scheduling classes")
def test_the_engine_trains_only_on_cpu_time_the_server_leaves(tmp_path):
    path, held = gate(tmp_path)
    engine = one_worker()
    j = job(engine, epochs=2, data=held).start()
    try:
        wait(lambda: j.state == "running")  # its task waits for the gate in the worker's task thread

        def idle_threads():
            return [(pid, t) for pid, ts in _engine_task_threads(engine).items() for t in ts
                    if os.sched_getscheduler(t) == os.SCHED_IDLE]

        wait(lambda: idle_threads())
        (pid, thread), = idle_threads()  # the task's thread, and only it: the worker still answers the scheduler
        assert os.getpriority(os.PRIO_PROCESS, thread) == min(19, os.getpriority(os.PRIO_PROCESS, pid)
                                                              + WORKER_NICENESS)
    finally:
        path.touch()
        j.stop()
        j.join(PATIENCE)


def test_a_worker_killed_under_a_run_loses_nothing(tmp_path):
    """The scheduler runs a lost worker's task again on another (the run's state is in the server, not the
    worker); the nanny starts a new worker; the run ends as it would have."""
    engine = engines.shared(workers=2)
    path, held = gate(tmp_path)
    config = TrainConfig(hidden=(64,), epochs=4, batch_size=16, seed=0)
    j = job(engine, config=config, data=held).start()
    wait(lambda: j.state == "running")  # its first task waits for the gate on one of the two workers
    processing = {w: ts for w, ts in engine.client().processing().items() if ts}
    (worker, _), = processing.items()
    pid = engine.client().run(os.getpid, workers=[worker])[worker]
    os.kill(pid, signal.SIGKILL)
    path.touch()
    assert j.join(PATIENCE) and j.state == "completed", j.error
    local = build_model(config, n_in=20, n_out=3)
    list(Trainer(local, config, *blobs(2000)).run())
    for a, b in zip(local.get_weights(), j.model.get_weights(), strict=True):
        assert np.array_equal(a, b)
    wait(lambda: len(engine.client().nthreads()) == 2)  # the nanny started a new worker


def test_a_runs_first_slice_is_one_epoch_and_later_ones_about_a_second():
    from mlp import EpochRecord
    from webapp.training.relay import MAX_SLICE_EPOCHS, slice_epochs

    def record(seconds, val):
        return EpochRecord(epoch=1, train_loss=0.1, train_accuracy=0.9, val_loss=None, val_accuracy=None, lr=0.1,
                           seconds=seconds, val_seconds=val, samples_per_second=1.0)

    assert slice_epochs([]) == 1
    assert slice_epochs([record(0.2, 0.05)]) == 4
    assert slice_epochs([record(3.0, 0.1)]) == 1  # a long epoch is a slice of its own
    assert slice_epochs([record(0.0001, 0.0)]) == MAX_SLICE_EPOCHS


def test_short_epochs_go_several_to_a_task(monkeypatch):
    engine = one_worker()
    slices = []
    monkeypatch.setattr(engine.line, "measured", slices.append)
    j = job(engine, epochs=30, n=600).start()  # epochs of a few ms
    assert j.join(PATIENCE) and j.state == "completed" and len(j.records) == 30
    assert len(slices) <= 5  # 1 epoch, then up to ten a task
