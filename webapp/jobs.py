"""Background training runs for the web app, and a process-wide limit on how many run at once.

No Streamlit here. A TrainingJob trains in a worker *process*: a training thread
inside the server would share the GIL with every user's page runs, and each of
its many short NumPy calls would then wait for the GIL (measured: 20x slower
while other sessions were active). A thread in the server only relays the
worker's messages into the state a page polls (records, progress, queue
position, outcome). Pages read `snapshot`, a copy of the model after the last
finished epoch. The worker (webapp/worker.py, a fresh interpreter that never imports
Streamlit) talks over its stdin/stdout in pickles: between our own processes only.
"""

import copy
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from mlp import EpochRecord

ROOT = Path(__file__).resolve().parent.parent


class TrainingSlots:
    """At most `limit` runs train at once; the others wait in first-come order."""

    def __init__(self, limit=2):
        if limit < 1:
            raise ValueError(f"the training limit must be at least 1, got {limit}")
        self.limit = limit
        self._running = set()
        self._waiting = deque()
        self._cond = threading.Condition()

    def acquire(self, job, cancelled):
        """Block until `job` may train; False if `cancelled` (an Event) was set while waiting."""
        with self._cond:
            self._waiting.append(job)
            try:
                while not (len(self._running) < self.limit and self._waiting[0] is job):
                    if cancelled.is_set():
                        return False
                    self._cond.wait(timeout=0.2)
                self._running.add(job)
                return True
            finally:
                if job in self._waiting:
                    self._waiting.remove(job)
                self._cond.notify_all()

    def release(self, job):
        """Give back the slot `job` held."""
        with self._cond:
            self._running.discard(job)
            self._cond.notify_all()

    def position(self, job):
        """1-based place in the waiting line, or None if not waiting."""
        with self._cond:
            for i, waiting in enumerate(self._waiting):
                if waiting is job:
                    return i + 1
        return None

    @property
    def running(self):
        """How many runs hold a slot now."""
        with self._cond:
            return len(self._running)


class _StopSignal:
    """Event-like: set when Stop was pressed, or when the owner has been gone for `grace` seconds.

    A closed tab cannot press Stop, so `alive()` (is the user's session still connected?) is
    polled; a short network blip does not count, only an absence longer than the grace period.
    """

    def __init__(self, alive, grace):
        self.event = threading.Event()
        self.alive, self.grace = alive, grace
        self.orphaned = False
        self._gone_since = None

    def set(self):
        self.event.set()

    def is_set(self):
        if self.event.is_set():
            return True
        if self.alive is None or self.alive():
            self._gone_since = None
            return False
        now = time.monotonic()
        self._gone_since = self._gone_since or now
        if now - self._gone_since >= self.grace:
            self.orphaned = True
            self.event.set()
        return self.event.is_set()


class TrainingJob:
    """One user's training run in a daemon thread.

    state: "queued" -> "running" -> "evaluating" -> one of "completed", "stopped",
    "early_stopped", "diverged", "failed". A paused run goes "running" -> "paused" (after the
    epoch under way; its slot is given back, since it uses no CPU) -> "queued" (for a slot again)
    -> "running". `finish(model, evaluation)` is called in the thread once
    training ends with at least one finished epoch (e.g. to evaluate on the test set).
    `alive()` tells whether the owner is still there; a run whose owner has been gone for
    `grace` seconds stops by itself (`orphaned` is then True) and frees its slot.
    """

    DONE = ("completed", "stopped", "early_stopped", "diverged", "failed")

    def __init__(self, name, model, config, data, *, slots, finish=None, alive=None, grace=30.0):
        self.name, self.model, self.config = name, model, config
        self.slots, self._finish = slots, finish
        self._data = data  # ("module:function", args): the worker calls it to get (x, y)
        self.state = "queued"
        self.error = None
        self.records = []
        self.batch_progress = (0, 1)
        self.snapshot = copy.deepcopy(model) if model.meta.get("history") else None
        self.started_at = self.training_started_at = self.finished_at = None
        self.paused_seconds = 0.0  # time spent paused (and queued to resume), left out of the ETA
        self._paused_at = None
        self._stop = _StopSignal(alive, grace)
        self._pause = threading.Event()  # set by pause(), cleared by resume()
        self._thread = threading.Thread(target=self._run, name=f"train:{name}", daemon=True)

    # -- control ----------------------------------------------------------------

    def start(self):
        """Start the thread (it queues for a slot first)."""
        self.started_at = time.time()
        self._thread.start()
        return self

    def stop(self):
        """Ask the run to end; it keeps the last finished epoch. Returns at once."""
        self._stop.set()

    def pause(self):
        """Ask the run to pause after the epoch under way. Returns at once."""
        self._pause.set()

    def resume(self):
        """Undo pause(): the run goes on (after waiting for a slot if it gave its own back)."""
        self._pause.clear()

    @property
    def pause_requested(self):
        """True between pause() and resume(), whether or not the pause has taken effect yet."""
        return self._pause.is_set()

    def join(self, timeout=None):
        """Wait for the thread to end; True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- what pages read ---------------------------------------------------------

    @property
    def orphaned(self):
        """True if the run stopped because its owner went away."""
        return self._stop.orphaned

    @property
    def done(self):
        """True once the run has ended, however it ended."""
        return self.state in self.DONE

    @property
    def queue_position(self):
        """1-based place in line while queued, else None."""
        return self.slots.position(self) if self.state == "queued" else None

    def progress(self):
        """Fraction of all batches done, in [0, 1]."""
        done, total = self.batch_progress
        epochs_done = len(self.records)
        return min(1.0, (epochs_done + done / total) / self.config.epochs)

    def eta_seconds(self):
        """Estimated seconds left, from the pace so far; None before the first batches."""
        if self.training_started_at is None or self.done or self._paused_at is not None:
            return None
        fraction = self.progress()
        if fraction <= 0:
            return None
        elapsed = time.time() - self.training_started_at - self.paused_seconds
        return elapsed / fraction * (1 - fraction)

    # -- the thread ----------------------------------------------------------------

    def _run(self):
        if not self.slots.acquire(self, self._stop):
            self.state = "stopped"
            self.finished_at = time.time()
            return
        try:
            outcome = self._train_in_worker()
        finally:
            self.slots.release(self)
        if self.records and self._finish is not None:
            # Pages see "evaluating" until the test score is in the model, then the outcome.
            self.state = "evaluating"
            try:
                self._finish(self.model)
                self.snapshot = copy.deepcopy(self.model)
            except Exception as e:  # noqa: BLE001 - a page shows it; the server must not die
                self.error = f"evaluation failed: {type(e).__name__}: {e}"
        self.finished_at = time.time()
        self.state = outcome

    def _train_in_worker(self):
        """Run the worker process and relay its messages; returns the outcome."""
        worker = subprocess.Popen(
            [sys.executable, "-m", "webapp.worker"], cwd=ROOT, env=worker_environment(self.slots.limit),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        inbox = queue.Queue()
        threading.Thread(target=_read_messages, args=(worker.stdout, inbox), daemon=True).start()
        self.state = "running"
        self.training_started_at = time.time()
        outcome, stop_sent, pause_sent = None, False, False

        def tell(command):
            worker.stdin.write(command + b"\n")
            worker.stdin.flush()

        try:
            pickle.dump((self._data, self.config, _model_spec(self.model)), worker.stdin)
            worker.stdin.flush()
            while outcome is None:
                if self._stop.is_set() and not stop_sent:
                    tell(b"stop")
                    stop_sent = True
                elif self._pause.is_set() and not pause_sent and not stop_sent:
                    tell(b"pause")
                    pause_sent = True
                elif not self._pause.is_set() and pause_sent and not stop_sent:
                    if self._paused_at is not None and not self._take_slot_back():
                        continue  # stopped while waiting for a slot: the next round tells the worker
                    tell(b"resume")
                    pause_sent = False
                try:
                    message = inbox.get(timeout=0.1)
                except queue.Empty:
                    continue
                if message is None:  # the worker's output ended without a verdict
                    self.error = f"the training process ended unexpectedly (exit code {worker.wait(5)})"
                    return "failed"
                if message == ("paused",):
                    if pause_sent:  # still wanted (a resume may have crossed the worker's message)
                        self._paused_at = time.time()
                        self.state = "paused"
                        self.slots.release(self)
                    continue
                outcome = self._handle(message)
        except (BrokenPipeError, OSError) as e:
            self.error = f"the training process could not be reached: {e}"
            return "failed"
        finally:
            for pipe in (worker.stdin, worker.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
            try:
                worker.wait(5)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        return outcome

    def _take_slot_back(self):
        """After a pause: queue for a slot again; False if stopped while waiting."""
        self.state = "queued"
        if not self.slots.acquire(self, self._stop):
            return False
        self.paused_seconds += time.time() - self._paused_at
        self._paused_at = None
        self.state = "running"
        return True

    def _handle(self, message):
        """Apply one worker message; returns the outcome once the worker is done, else None."""
        kind = message[0]
        if kind == "progress":
            self.batch_progress = message[1]
        elif kind == "epoch":
            record, weights = message[1], message[2]
            self.model.set_weights(weights)
            self.model.meta.setdefault("history", []).append(record)
            self.records.append(EpochRecord(**record))
            self.batch_progress = (0, 1)
            self.snapshot = copy.deepcopy(self.model)
        elif kind == "done":
            outcome, error, weights = message[1], message[2], message[3]
            self.error = error
            if weights is not None:
                self.model.set_weights(weights)
            return outcome
        return None



# -- the worker process -------------------------------------------------------------------------


def _model_spec(model):
    """What the worker needs to rebuild `model`: architecture, weights, metadata."""
    return {
        "layer_sizes": model.layer_sizes, "activation": model.activation, "dropout": model.dropout,
        "dtype": model.dtype.name, "weights": model.get_weights(), "meta": model.meta,
    }


def worker_environment(max_runs):
    """The worker's environment: BLAS threads split between the runs that may train at once.

    Two runs each starting two BLAS threads on two cores spin against each other and
    slowed large products down 50x in measurements here; one thread each does not.
    """
    threads = str(max(1, (os.cpu_count() or 1) // max_runs))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    env.update(OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    return env


def _read_messages(stream, inbox):
    """Unpickle the worker's messages into `inbox`; None marks the end of its output."""
    try:
        while True:
            inbox.put(pickle.load(stream))
    except (EOFError, OSError, ValueError, pickle.UnpicklingError):  # ValueError: we closed the pipe
        inbox.put(None)


def load_training_split(name, directory):
    """(x_train, y_train) of dataset `name` read from `directory` (already checked by the server)."""
    from data import load_dataset

    ds = load_dataset(name, directory=directory, verify=False)
    return ds.x_train, ds.y_train
