"""A run's life in the server: its tasks on the engine, their results relayed into the job. No Streamlit.

A TrainingJob trains on the task engine (webapp/training/engine.py), never in the server: a training
thread inside the server would share the GIL with every user's page runs (measured: 20x slower while
other sessions were active). A thread in the server (`run`, the job's relay thread) submits the run's
tasks one after another and relays what comes back into the state a page polls (records, progress,
place in line, outcome).

A training run is a chain of slices (webapp/training/tasks.py's train_slice): one epoch first, then as
many epochs as take about a second; each starts from the state the one before returned, with priority
minus the epochs done, so the engine gives the next turn to the run that has had fewest. Pause ends
the slice under way after its epoch (the run's pause Event) and submits nothing until Resume: a paused
run holds no worker. Stop sets the run's stop Event
(the slice under way ends after its batch) or cancels a slice still waiting. A teach is one task.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError
from typing import TYPE_CHECKING, Any

from mlp import EpochRecord, TrainConfig, model_to_bytes
from webapp.training.engine import EngineError, Flag
from webapp.training.protocol import JobState, Task
from webapp.training.tasks import Sliced, Taught, teach, train_slice

if TYPE_CHECKING:
    from webapp.training.job import TrainingJob

__all__ = ["run"]

POLL_SECONDS = 0.1  # how often the relay looks at Stop and Pause while a task is out
SLICE_SECONDS = 1.0  # after its first epoch, a run's slices are as many epochs as take about this long
MAX_SLICE_EPOCHS = 10
TEACH_PRIORITY = 1_000_000  # a teach is a click's wait: it goes before every run's next epoch


def run(job: TrainingJob) -> None:
    """The relay thread: train (or teach) on the engine, score the model (job.finish), end in a state."""
    run_id = uuid.uuid4().hex
    try:
        outcome = _teach(job, run_id) if job.task is Task.TEACH else _train(job, run_id)
    except EngineError as e:
        job.update(error=str(e))
        outcome = JobState.FAILED
    except Exception as e:  # noqa: BLE001 - a page shows it; the server must not die
        job.update(error=f"training could not run: {type(e).__name__}: {e}")
        outcome = JobState.FAILED
    finally:
        job.engine.line.leave(job)
        job.update(state_bytes=None)
        try:
            if job.engine.connected:  # (not to try again an engine that could not be reached)
                for flag in Flag:
                    job.engine.flag(flag, run_id).clear()
        except Exception:  # noqa: BLE001 - an engine gone away forgets it too
            pass
    if job.records and job.finish is not None:
        assert job.model is not None  # let go only below
        # Pages see EVALUATING until the test score is in the model, then the outcome.
        job.update(state=JobState.EVALUATING)
        try:
            job.finish(job.model)
            job.update(snapshot=copy.deepcopy(job.model))
        except Exception as e:  # noqa: BLE001 - a page shows it; the server must not die
            job.update(error=f"evaluation failed: {type(e).__name__}: {e}")
    if job.snapshot is None:  # nothing came of it (it failed or was stopped before an epoch): free its weights
        job.update(model=None)
    job.update(finished_at=time.time(), state=outcome)


def _train(job: TrainingJob, run_id: str) -> JobState:
    """Submit the run's slices one after another until it ends; returns the outcome."""
    assert job.model is not None and isinstance(job.config, TrainConfig)  # model let go only at the end
    # The first slice builds the run from the model file and its settings; later ones go on from its state.
    start = model_to_bytes(job.model)
    config_once: TrainConfig | None = job.config
    slices = 0
    while True:
        if job.stop_signal.is_set():
            return JobState.STOPPED
        if job.pause_signal.is_set() and job.records and not _paused(job, run_id):
            return JobState.STOPPED
        result = _task(job, run_id, f"train_slice-{run_id}-{slices}", train_slice, start, config_once,
                       slice_epochs(job.records), priority=-len(job.records))
        slices += 1
        if result is None:
            return JobState.STOPPED
        assert isinstance(result, Sliced)
        job.engine.line.measured(result.seconds)
        for record, weights in zip(result.records, result.weights, strict=True):
            job.add_epoch(record, weights)
        if result.outcome is not None:
            if result.final is not None:
                job.model.set_weights(result.final)
            job.update(error=result.error)
            return result.outcome
        assert result.state is not None  # epochs left
        start, config_once = result.state, None
        job.update(state_bytes=len(start))


def slice_epochs(records: Sequence[EpochRecord]) -> int:
    """How many epochs the run's next slice trains: one at first (everyone sees an epoch soon), then as many as
    take about SLICE_SECONDS of a worker (short epochs would otherwise spend much of their time moving the run)."""
    if not records:
        return 1
    last = records[-1]
    seconds = last.seconds + (last.val_seconds or 0.0)
    return max(1, min(MAX_SLICE_EPOCHS, int(SLICE_SECONDS / max(seconds, 1e-3))))


def _paused(job: TrainingJob, run_id: str) -> bool:
    """Hold between slices until Resume (True) or Stop (False); the run holds no worker meanwhile."""
    job.update(paused_at=time.time(), state=JobState.PAUSED)
    while job.pause_signal.is_set():
        if job.stop_signal.is_set():
            return False
        time.sleep(POLL_SECONDS)
    job.resumed()
    job.engine.flag(Flag.PAUSE, run_id).clear()
    return True


def _teach(job: TrainingJob, run_id: str) -> JobState:
    assert job.model is not None  # let go only once the run has ended
    result = _task(job, run_id, f"teach-{run_id}", teach, model_to_bytes(job.model), job.config,
                   priority=TEACH_PRIORITY)
    if result is None:
        return JobState.STOPPED
    assert isinstance(result, Taught)
    if result.outcome is JobState.COMPLETED:
        job.update(batch_progress=(1, 1))
    job.update(error=result.error)
    if result.weights is not None:  # the taught model: its name, scores, what teaching did, any memory
        job.model.set_weights(result.weights)
        job.model.meta, job.model.memory = result.meta or {}, result.memory  # the memory of these weights
        job.update(snapshot=copy.deepcopy(job.model))
    return result.outcome


def _task(job: TrainingJob, run_id: str, key: str, fn: Callable[..., Any], *args: object,
          priority: int) -> Sliced | Taught | None:
    """Run `fn(job.data, run_id, key, *args)` on the engine as task `key` and wait for it, watching Stop.

    Returns its result; None if stopped before it began. Its progress events (tagged `key`) go to the job.
    """
    engine = job.engine
    engine.line.enter(job, priority)
    engine.listen(key, job.progressed)
    future = None
    pause_sent = False
    try:
        future = engine.submit(fn, job.data, run_id, key, *args, key=key, priority=priority)
        ended = threading.Event()  # set by Dask when the future is done or cancelled: no wait for the next poll
        future.add_done_callback(lambda _: ended.set())
        while True:
            ended.clear()  # before the questions: an end after them sets it again and cuts the wait short
            # Asked once it is done, and a cancelled one not at all: Dask's blocking result() turns a cancellation
            # that arrives while it waits into an UnboundLocalError (dask/distributed#8514), and a closing client
            # cancels its futures.
            if future.cancelled():
                if job.stop_sent or job.stop_signal.is_set():
                    return None
                # Not ours (we cancel only on Stop): the client closed, its scheduler gone (deploy/).
                raise EngineError("the training engine went away before this run's next epoch was done; "
                                  "try again in a moment")
            if future.done():
                try:
                    result: Sliced | Taught = future.result()
                    return result
                except CancelledError:  # cancelled between the two questions
                    continue
                except Exception as e:  # noqa: BLE001 - the task's own error, or the engine's (a worker lost twice)
                    raise EngineError(f"the training task failed: {type(e).__name__}: {e}") from e
            ended.wait(POLL_SECONDS)
            if job.pause_signal.is_set() != pause_sent:  # the slice ends after the epoch under way
                pause_sent = not pause_sent
                if pause_sent:
                    engine.flag(Flag.PAUSE, run_id).set()
                else:
                    engine.flag(Flag.PAUSE, run_id).clear()
            if job.stop_signal.is_set() and not job.stop_sent:
                engine.flag(Flag.STOP, run_id).set()  # under way: it ends after its batch
                job.update(stop_sent=True)
                if engine.line.position(job) is not None:
                    future.cancel()  # still waiting for a worker: it never starts
                    return None
    finally:
        engine.line.leave(job)
        engine.listen(key, None)
        if future is not None:
            future.release()
