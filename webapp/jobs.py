"""Background training runs for the web app, and a process-wide limit on how many run at once.

No Streamlit here: a TrainingJob is a thread plus the state a page polls
(records, progress, queue position, outcome). Pages never touch the model the
thread is training; they read `snapshot`, a copy taken after each finished epoch.
"""

import copy
import threading
import time
from collections import deque

from mlp import DivergedError, Trainer


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
                self._waiting.remove(job) if job in self._waiting else None
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


class TrainingJob:
    """One user's training run in a daemon thread.

    state: "queued" -> "running" -> "evaluating" -> one of "completed", "stopped",
    "early_stopped", "diverged", "failed". `finish(model, evaluation)` is called in the thread once
    training ends with at least one finished epoch (e.g. to evaluate on the test set).
    """

    DONE = ("completed", "stopped", "early_stopped", "diverged", "failed")

    def __init__(self, name, model, config, x, y, *, slots, finish=None):
        self.name, self.model, self.config = name, model, config
        self.slots, self._finish = slots, finish
        self._x, self._y = x, y
        self.state = "queued"
        self.error = None
        self.records = []
        self.batch_progress = (0, 1)
        self.snapshot = copy.deepcopy(model) if model.meta.get("history") else None
        self.started_at = self.training_started_at = self.finished_at = None
        self._stop = threading.Event()
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

    def join(self, timeout=None):
        """Wait for the thread to end; True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- what pages read ---------------------------------------------------------

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
        if self.training_started_at is None or self.done:
            return None
        fraction = self.progress()
        if fraction <= 0:
            return None
        elapsed = time.time() - self.training_started_at
        return elapsed / fraction * (1 - fraction)

    # -- the thread ----------------------------------------------------------------

    def _run(self):
        if not self.slots.acquire(self, self._stop):
            self.state = "stopped"
            self.finished_at = time.time()
            return
        outcome = "failed"
        try:
            self.state = "running"
            self.training_started_at = time.time()
            trainer = Trainer(self.model, self.config, self._x, self._y, progress=self._on_batch)
            for record in trainer.run(self._stop):
                self.records.append(record)
                self.snapshot = copy.deepcopy(self.model)
                self.batch_progress = (0, 1)
            outcome = trainer.outcome
        except DivergedError as e:
            outcome, self.error = "diverged", str(e)
        except Exception as e:  # noqa: BLE001 - a page shows it; the server must not die
            outcome, self.error = "failed", f"{type(e).__name__}: {e}"
        finally:
            self.slots.release(self)
            self._x = self._y = None  # let the training copy of the data go
        if self.records and self._finish is not None:
            # Pages see "evaluating" until the test score is in the model, then the outcome.
            self.state = "evaluating"
            try:
                self._finish(self.model)
                self.snapshot = copy.deepcopy(self.model)
            except Exception as e:  # noqa: BLE001
                self.error = f"evaluation failed: {type(e).__name__}: {e}"
        self.finished_at = time.time()
        self.state = outcome

    def _on_batch(self, done, total):
        self.batch_progress = (done, total)
