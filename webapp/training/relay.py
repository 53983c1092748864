"""A run's life in the server: a slot, a worker process, its messages relayed into the job. No Streamlit.

A TrainingJob trains in a worker *process*: a training thread inside the server would share the
GIL with every user's page runs, and each of its many short NumPy calls would then wait for the
GIL (measured: 20x slower while other sessions were active). A thread in the server (`run`, the
job's relay thread) only relays the worker's messages into the state a page polls (records,
progress, queue position, outcome). The worker (webapp/training/worker.py, a fresh interpreter
that never imports Streamlit) gets the model as .npz file bytes and talks over its stdin/stdout
in the typed messages of webapp/training/protocol.py, pickled: between our own processes only.
"""

from __future__ import annotations

import copy
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

from mlp import model_to_bytes
from webapp.training.protocol import Command, Done, Epoch, JobState, Paused, Progress, Start
from webapp.training.signals import EitherSet

if TYPE_CHECKING:
    from webapp.training.job import TrainingJob

__all__ = ["run", "worker_environment"]

ROOT = Path(__file__).resolve().parents[2]  # the project folder, where `python -m webapp.training.worker` runs


def run(job: TrainingJob) -> None:
    """The relay thread: wait for a slot, train in a worker, score the model (job.finish), end in a state."""
    if not job.slots.acquire(job, job.stop_signal):
        job.update(state=JobState.STOPPED, finished_at=time.time())
        return
    job.update(state=JobState.RUNNING)
    try:
        outcome = _train_in_worker(job)
    except Exception as e:  # noqa: BLE001 - a page shows it; the server must not die
        job.update(error=f"training could not run: {type(e).__name__}: {e}")
        outcome = JobState.FAILED
    finally:
        job.slots.release(job)
        job.update(worker_pid=None, worker_reserved=False)  # (also when the worker never started)
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


def _train_in_worker(job: TrainingJob) -> JobState:
    """Run the worker process and relay its messages; returns the outcome."""
    assert job.model is not None  # let go only once the run has ended
    start = Start(job.data, job.config, model_to_bytes(job.model))
    worker = subprocess.Popen(
        [sys.executable, "-m", "webapp.training.worker"], cwd=ROOT, env=worker_environment(job.slots.limit),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    to_worker, from_worker = worker.stdin, worker.stdout
    assert to_worker is not None and from_worker is not None  # both PIPE
    inbox: queue.Queue[object] = queue.Queue()
    threading.Thread(target=_read_messages, args=(from_worker, inbox), daemon=True).start()
    job.update(training_started_at=time.time(), worker_pid=worker.pid)
    outcome, stop_sent, pause_sent = None, False, False

    def tell(command: Command) -> None:
        to_worker.write(command.line)
        to_worker.flush()

    try:
        pickle.dump(start, to_worker, protocol=pickle.HIGHEST_PROTOCOL)
        to_worker.flush()
        while outcome is None:
            # A pause asked for before this loop began (while queued) is sent on its first
            # round, so the worker pauses after its first epoch.
            if job.stop_signal.is_set() and not stop_sent:
                tell(Command.STOP)
                stop_sent = True
            elif job.pause_signal.is_set() and not pause_sent and not stop_sent:
                tell(Command.PAUSE)
                pause_sent = True
            elif not job.pause_signal.is_set() and pause_sent and not stop_sent:
                if job.paused_at is not None and not _take_slot_back(job):
                    continue  # stopped or paused again while waiting: the next round sees which
                tell(Command.RESUME)
                pause_sent = False
            try:
                message = inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            match message:
                case None:  # the worker's output ended without a verdict
                    job.update(error=f"the training process ended unexpectedly (exit code {worker.wait(5)})")
                    return JobState.FAILED
                case Paused():
                    if pause_sent:  # still wanted (a resume may have crossed the worker's message)
                        job.update(paused_at=time.time(), state=JobState.PAUSED)
                        job.slots.release(job)
                case _:
                    outcome = _handle(job, message)
    except (BrokenPipeError, OSError) as e:
        job.update(error=f"the training process could not be reached: {e}")
        return JobState.FAILED
    finally:
        for pipe in (to_worker, from_worker):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            worker.wait(5)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        job.update(worker_pid=None, worker_reserved=False)
    return outcome


def _take_slot_back(job: TrainingJob) -> bool:
    """After a pause: queue for a slot again; False if stopped, or paused again, while waiting."""
    job.update(state=JobState.QUEUED)
    if not job.slots.acquire(job, EitherSet(job.stop_signal, job.pause_signal)):
        job.update(state=JobState.PAUSED)
        return False
    job.resumed()
    return True


def _handle(job: TrainingJob, message: object) -> JobState | None:
    """Apply one worker message; returns the outcome once the worker is done, else None."""
    match message:
        case Progress(done, total):
            job.update(batch_progress=(done, total))
        case Epoch(record, weights):
            job.add_epoch(record, weights)
        case Done(outcome, error, weights, meta):
            assert job.model is not None  # let go only once the run has ended
            job.update(error=error)
            if weights is not None:
                job.model.set_weights(weights)
            if meta is not None:  # a taught model: its name, scores and what teaching did
                job.model.meta = meta
                job.update(snapshot=copy.deepcopy(job.model))
            return outcome
    return None


def worker_environment(max_runs: int) -> dict[str, str]:
    """The worker's environment: BLAS threads split between the runs that may train at once.

    Two runs each starting two BLAS threads on two cores spin against each other and
    slowed large products down 50x in measurements here; one thread each does not.
    """
    threads = str(max(1, (os.cpu_count() or 1) // max_runs))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    env.update(OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    return env


def _read_messages(stream: IO[bytes], inbox: queue.Queue[object]) -> None:
    """Unpickle the worker's messages into `inbox`; None marks the end of its output."""
    try:
        while True:
            inbox.put(pickle.load(stream))
    except (EOFError, OSError, ValueError, pickle.UnpicklingError):  # ValueError: we closed the pipe
        inbox.put(None)
