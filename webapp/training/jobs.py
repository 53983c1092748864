"""Background training runs for the web app, and a process-wide limit on how many run at once.

No Streamlit here. A TrainingJob trains in a worker *process*: a training thread
inside the server would share the GIL with every user's page runs, and each of
its many short NumPy calls would then wait for the GIL (measured: 20x slower
while other sessions were active). A thread in the server only relays the
worker's messages into the state a page polls (records, progress, queue
position, outcome). Pages read `view()`, one consistent JobView, `snapshot`, a
copy of the model after the last finished epoch, and `epoch_weights()`, the weights
after each finished epoch within a memory budget (webapp/training/replay.py). The worker
(webapp/training/worker.py, a fresh interpreter that never imports Streamlit) gets the model
as .npz file bytes and talks over its stdin/stdout in the typed messages of
webapp/training/protocol.py, pickled: between our own processes only. The same job and worker
also teach a model a user's drawings (`start_teaching`, Task.TEACH), queued like training.
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
from typing import NamedTuple

import numpy as np

from mlp import EpochRecord, model_to_bytes
from mlp.adapt import AdaptConfig, check_drawings
from mlp.io import loaded_bytes
from webapp.training.protocol import (
    DONE,
    Command,
    Done,
    Epoch,
    JobState,
    Paused,
    Progress,
    Start,
    Task,
    Teach,
)
from webapp.training.replay import EPOCH_WEIGHTS_BUDGET, EpochWeights, compact

__all__ = ["DONE", "JobState", "JobView", "Task", "TrainingJob", "TrainingSlots", "load_replay_and_test",
           "load_training_split", "model_bytes", "process_bytes", "replay_source", "start_teaching", "worker_bytes",
           "worker_environment"]

ROOT = Path(__file__).resolve().parent.parent


def model_bytes(model):
    """Bytes an MLP holds: its weights and biases, and the gradient arrays beside them."""
    return sum(a.nbytes for pair in model.flat_parameters() for a in pair[:2])


#: A training worker's memory before its network: Python, NumPy and the training split of MNIST (measured
#: 147 MB for a 784-256-128-10 network after its first epoch, 246 MB for 784-4096-10).
WORKER_BASE_BYTES = 150 * 2**20


def worker_bytes(layer_sizes, dtype="float32", batch_size=128):
    """An estimate of a worker's memory for a network: its base, each weight six times over (weights,
    gradients, Adam's two moments, scratch), and a batch's activations and their gradients."""
    itemsize = np.dtype(dtype).itemsize
    return WORKER_BASE_BYTES + 6 * loaded_bytes(layer_sizes, dtype) + 6 * batch_size * sum(layer_sizes) * itemsize


def process_bytes(pid):
    """A live process's resident memory in bytes (Linux's /proc); 0 once it has gone, or where /proc is not."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class TrainingSlots:
    """At most `limit` runs train at once; the others wait in first-come order.

    With `room` (a callable: do this many more bytes fit in the server's memory budget?), the run at
    the head of the line also waits until the worker it is about to start fits (its `worker_need()`):
    a paused run keeps its worker, so workers could otherwise pile up past the budget, one epoch at a
    time. The line moves on as memory is given back (a run ends, a session closes).
    """

    def __init__(self, limit=2, room=None):
        if limit < 1:
            raise ValueError(f"the training limit must be at least 1, got {limit}")
        self.limit = limit
        self.room = room
        self.short_of_memory = False  # the head of the line has a slot but its worker does not fit yet
        self._running = set()
        self._waiting: deque[object] = deque()  # jobs, in order of arrival
        self._cond = threading.Condition()

    def _next(self):
        """The run a free slot goes to: the head of the line if its worker fits; else a paused run resuming,
        whose worker is already counted (it must not wait behind a run that waits for its memory)."""
        head = self._waiting[0]
        self.short_of_memory = not self._fits(head)
        if not self.short_of_memory:
            return head
        return next((w for w in self._waiting if getattr(w, "worker_need", lambda: None)() == 0), None)

    def _fits(self, job):
        need = getattr(job, "worker_need", None)
        return self.room is None or need is None or self.room(need())

    def acquire(self, job, cancelled):
        """Block until `job` may train; False if `cancelled` (an Event) was set while waiting."""
        with self._cond:
            self._waiting.append(job)
            try:
                while True:
                    if len(self._running) < self.limit and self._next() is job:
                        break
                    if cancelled.is_set():
                        return False
                    self._cond.wait(timeout=0.2)
                self._running.add(job)
                reserve = getattr(job, "reserve_worker", None)
                if reserve is not None:
                    reserve()  # counted from now, before the next in line asks whether its worker fits
                return True
            finally:
                if job in self._waiting:
                    self._waiting.remove(job)
                self.short_of_memory = False  # the next at the head finds out for itself
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


class _EitherSet:
    """Event-like: set when any of `signals` is; polled in order, so a _StopSignal first keeps watching for orphans."""

    def __init__(self, *signals):
        self.signals = signals

    def is_set(self):
        return any(s.is_set() for s in self.signals)


class JobView(NamedTuple):
    """A job as pages see it, every field read at the same moment (see TrainingJob.view)."""

    name: str
    state: JobState
    epochs_done: int  # epochs finished in this run (a continued model's earlier ones not counted)
    epochs_total: int  # epochs this run was asked for
    pause_requested: bool
    queue_position: int | None  # 1-based place in line while QUEUED, else None
    progress: float  # fraction of this run's batches done, in [0, 1]
    eta_seconds: float | None
    samples_per_second: float | None  # of the last finished epoch
    error: str | None
    test_accuracy: float | None  # of the model so far (after EVALUATING: of this run's model)
    orphaned: bool
    epochs_before: int = 0  # a continued model's epochs from earlier runs (epochs_done does not count them)
    short_of_memory: bool = False  # QUEUED with a slot free: its worker waits for the memory budget

    @property
    def done(self):
        """True once the run has ended, however it ended."""
        return self.state.done


class TrainingJob:
    """One user's training run: a worker process, relayed by a thread in the server.

    state (a JobState): QUEUED -> RUNNING -> EVALUATING -> one of COMPLETED, STOPPED,
    EARLY_STOPPED, DIVERGED, FAILED. A paused run goes RUNNING -> PAUSED (after the epoch under
    way; its slot is given back, since it uses no CPU) -> QUEUED (for a slot again) -> RUNNING.
    A pause asked for before training starts (while QUEUED) takes effect after the first epoch;
    one asked for again while queued to resume keeps the run PAUSED. `finish(model)` is called
    in the relay thread once training ends with at least one finished epoch (e.g. to evaluate
    on the test set). `alive()` tells whether the owner is still there; a run whose owner has
    been gone for `grace` seconds stops by itself (`orphaned` is then True) and frees its slot.

    Pages should read `view()`, one consistent snapshot; the attributes stay readable too.

    task=Task.TEACH makes it a teach job: `config` is a job_protocol.Teach, `data` loads
    (replay, test) pairs, progress counts adapt's steps as one "epoch", and once done the
    model and `snapshot` are the taught model with the metadata the worker sent.
    """

    DONE = DONE

    def __init__(self, name, model, config, data, *, slots, finish=None, alive=None, grace=30.0,
                 epoch_weights_budget=EPOCH_WEIGHTS_BUDGET, task=Task.TRAIN):
        self.name, self.model, self.config, self.task = name, model, config, Task(task)
        self.epochs_total = config.epochs if self.task is Task.TRAIN else 1
        self.slots, self._finish = slots, finish
        self._data = data  # ("module:function", args): the worker calls it to get (x, y)
        self._lock = threading.Lock()  # held while the relay thread changes what view() reads
        self.state = JobState.QUEUED
        self.error = None
        self.records = []
        self.batch_progress = (0, 1)
        self.snapshot = copy.deepcopy(model) if model.meta.get("history") else None
        history = model.meta.get("history")
        self.epochs_before = len(history) if isinstance(history, list) and self.task is Task.TRAIN else 0
        self._epochs = EpochWeights(epoch_weights_budget)  # this run's epochs, for replaying them
        self.started_at = self.training_started_at = self.finished_at = None
        self.paused_seconds = 0.0  # time spent paused (and queued to resume), left out of the ETA
        self._paused_at = None
        self._worker_pid = None  # while its worker process lives (webapp.session.budget counts that memory too)
        self._worker_reserved = False  # from taking a slot until its worker has gone
        sizes, dtype = model.layer_sizes, model.dtype.name
        self.worker_estimate = worker_bytes(sizes, dtype, getattr(config, "batch_size", 128))
        self._stop = _StopSignal(alive, grace)
        self._pause = threading.Event()  # set by pause(), cleared by resume()
        self._thread = threading.Thread(target=self._run, name=f"train:{name}", daemon=True)

    # -- control ----------------------------------------------------------------

    def start(self):
        """Start the relay thread (it queues for a slot first)."""
        self.started_at = time.time()
        self._thread.start()
        return self

    def stop(self):
        """Ask the run to end; it keeps the last finished epoch. Returns at once."""
        self._stop.set()

    def pause(self):
        """Ask the run to pause after the epoch under way (the first one, if still queued). Returns at once."""
        self._pause.set()

    def resume(self):
        """Undo pause(): the run goes on (after waiting for a slot if it gave its own back)."""
        self._pause.clear()

    @property
    def pause_requested(self):
        """True between pause() and resume(), whether or not the pause has taken effect yet."""
        return self._pause.is_set()

    def join(self, timeout=None):
        """Wait for the relay thread to end; True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- what pages read ---------------------------------------------------------

    def view(self):
        """A JobView: state, epochs, pause flag, queue place, progress... all from one moment."""
        # The place in line is read first, outside the job's lock: the slots ask jobs for their memory while
        # holding their own lock, so the job's lock is never held while waiting for the slots'.
        place, short_of_memory = self.slots.position(self), self.slots.short_of_memory
        with self._lock:
            state = self.state
            position = (place or 1) if state is JobState.QUEUED else None
            snapshot = self.snapshot
            acc = snapshot.meta.get("test_accuracy") if snapshot is not None else None
            return JobView(
                name=self.name, state=state, epochs_done=len(self.records), epochs_total=self.epochs_total,
                pause_requested=self._pause.is_set(), queue_position=position, progress=self._progress(),
                short_of_memory=state is JobState.QUEUED and short_of_memory,
                eta_seconds=self._eta_seconds(),
                samples_per_second=self.records[-1].samples_per_second if self.records else None,
                error=self.error, test_accuracy=acc if isinstance(acc, float) else None,
                orphaned=self._stop.orphaned, epochs_before=self.epochs_before,
            )

    def epoch_weights(self):
        """{epoch: [W0, b0, ...]} after this run's finished epochs, thinned to the budget; float16, read-only.

        Epochs are numbered as in the model's history (a continued model's go on from its earlier
        runs). The latest is the last finished epoch; after early stopping the final model is
        the best epoch's instead, which may have been thinned out.
        """
        with self._lock:
            return self._epochs.as_dict()

    def busy(self):
        """True while it trains or waits for a slot (webapp.session.budget counts a client's runs)."""
        return not self.done

    def memory_bytes(self):
        """Bytes this run holds: in the server its model, the last epoch's snapshot and the kept epochs (a
        run that ended before its first epoch holds none: it lets its model go); and its worker from the
        moment it has a slot until the worker has gone, training or paused (a paused run keeps its
        worker): the worker's resident memory, or the estimate while that is larger (a worker starting)."""
        with self._lock:
            models = {id(m): m for m in (self.model, self.snapshot) if m is not None}
            held = sum(model_bytes(m) for m in models.values()) + self._epochs.nbytes
            pid, reserved = self._worker_pid, self._worker_reserved
        if not reserved:
            return held
        return held + max(self.worker_estimate, process_bytes(pid) if pid is not None else 0)

    # TrainingSlots calls these two while holding its own lock: they take no other (one attribute, read or set
    # whole), and nothing holds the job's lock while it waits for the slots' (see view).

    def reserve_worker(self):
        """Count its worker from now (TrainingSlots calls this as it hands the run a slot)."""
        self._worker_reserved = True

    def worker_need(self):
        """Bytes its worker will add when it starts (0 while it has one: a paused run resuming)."""
        return 0 if self._worker_reserved else self.worker_estimate

    @property
    def orphaned(self):
        """True if the run stopped because its owner went away."""
        return self._stop.orphaned

    @property
    def done(self):
        """True once the run has ended, however it ended."""
        return self.state.done

    @property
    def queue_position(self):
        """1-based place in line while queued, else None."""
        return self.slots.position(self) if self.state is JobState.QUEUED else None

    def progress(self):
        """Fraction of all batches done, in [0, 1]."""
        with self._lock:
            return self._progress()

    def eta_seconds(self):
        """Estimated seconds left, from the pace so far; None before the first batches."""
        with self._lock:
            return self._eta_seconds()

    def _progress(self):
        done, total = self.batch_progress
        return min(1.0, (len(self.records) + done / total) / self.epochs_total)

    def _eta_seconds(self):
        if self.training_started_at is None or self.state.done or self._paused_at is not None:
            return None
        fraction = self._progress()
        if fraction <= 0:
            return None
        elapsed = time.time() - self.training_started_at - self.paused_seconds
        return elapsed / fraction * (1 - fraction)

    def _set(self, **fields):
        """Change what view() reads, all at once."""
        with self._lock:
            for name, value in fields.items():
                setattr(self, name, value)

    # -- the relay thread ------------------------------------------------------------

    def _run(self):
        if not self.slots.acquire(self, self._stop):
            self._set(state=JobState.STOPPED, finished_at=time.time())
            return
        self._set(state=JobState.RUNNING)
        try:
            outcome = self._train_in_worker()
        except Exception as e:  # noqa: BLE001 - a page shows it; the server must not die
            self._set(error=f"training could not run: {type(e).__name__}: {e}")
            outcome = JobState.FAILED
        finally:
            self.slots.release(self)
            self._set(_worker_pid=None, _worker_reserved=False)  # (also when the worker never started)
        if self.records and self._finish is not None:
            # Pages see EVALUATING until the test score is in the model, then the outcome.
            self._set(state=JobState.EVALUATING)
            try:
                self._finish(self.model)
                self._set(snapshot=copy.deepcopy(self.model))
            except Exception as e:  # noqa: BLE001 - a page shows it; the server must not die
                self._set(error=f"evaluation failed: {type(e).__name__}: {e}")
        if self.snapshot is None:  # nothing came of it (it failed or was stopped before an epoch): free its weights
            self._set(model=None)
        self._set(finished_at=time.time(), state=outcome)

    def _train_in_worker(self):
        """Run the worker process and relay its messages; returns the outcome (a JobState)."""
        start = Start(self._data, self.config, model_to_bytes(self.model), self.task)
        worker = subprocess.Popen(
            [sys.executable, "-m", "webapp.training.worker"], cwd=ROOT, env=worker_environment(self.slots.limit),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        to_worker, from_worker = worker.stdin, worker.stdout
        assert to_worker is not None and from_worker is not None  # both PIPE
        inbox: queue.Queue[object] = queue.Queue()
        threading.Thread(target=_read_messages, args=(from_worker, inbox), daemon=True).start()
        self._set(training_started_at=time.time(), _worker_pid=worker.pid)
        outcome, stop_sent, pause_sent = None, False, False

        def tell(command):
            to_worker.write(command.line)
            to_worker.flush()

        try:
            pickle.dump(start, to_worker, protocol=pickle.HIGHEST_PROTOCOL)
            to_worker.flush()
            while outcome is None:
                # A pause asked for before this loop began (while queued) is sent on its first
                # round, so the worker pauses after its first epoch.
                if self._stop.is_set() and not stop_sent:
                    tell(Command.STOP)
                    stop_sent = True
                elif self._pause.is_set() and not pause_sent and not stop_sent:
                    tell(Command.PAUSE)
                    pause_sent = True
                elif not self._pause.is_set() and pause_sent and not stop_sent:
                    if self._paused_at is not None and not self._take_slot_back():
                        continue  # stopped or paused again while waiting: the next round sees which
                    tell(Command.RESUME)
                    pause_sent = False
                try:
                    message = inbox.get(timeout=0.1)
                except queue.Empty:
                    continue
                match message:
                    case None:  # the worker's output ended without a verdict
                        self._set(error=f"the training process ended unexpectedly (exit code {worker.wait(5)})")
                        return JobState.FAILED
                    case Paused():
                        if pause_sent:  # still wanted (a resume may have crossed the worker's message)
                            self._set(_paused_at=time.time(), state=JobState.PAUSED)
                            self.slots.release(self)
                    case _:
                        outcome = self._handle(message)
        except (BrokenPipeError, OSError) as e:
            self._set(error=f"the training process could not be reached: {e}")
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
            self._set(_worker_pid=None, _worker_reserved=False)
        return outcome

    def _take_slot_back(self):
        """After a pause: queue for a slot again; False if stopped, or paused again, while waiting."""
        self._set(state=JobState.QUEUED)
        if not self.slots.acquire(self, _EitherSet(self._stop, self._pause)):
            self._set(state=JobState.PAUSED)
            return False
        with self._lock:
            assert self._paused_at is not None  # set when the pause began
            self.paused_seconds += time.time() - self._paused_at
            self._paused_at = None
            self.state = JobState.RUNNING
        return True

    def _handle(self, message):
        """Apply one worker message; returns the outcome once the worker is done, else None."""
        match message:
            case Progress(done, total):
                self._set(batch_progress=(done, total))
            case Epoch(record, weights):
                self.model.set_weights(weights)
                self.model.meta.setdefault("history", []).append(record)
                snapshot = copy.deepcopy(self.model)
                kept = compact(weights)
                with self._lock:
                    self.records.append(EpochRecord(**record))
                    self.batch_progress = (0, 1)
                    self.snapshot = snapshot
                    self._epochs.add(record["epoch"], kept)
            case Done(outcome, error, weights, meta):
                self._set(error=error)
                if weights is not None:
                    self.model.set_weights(weights)
                if meta is not None:  # a taught model: its name, scores and what teaching did
                    self.model.meta = meta
                    self._set(snapshot=copy.deepcopy(self.model))
                return outcome
        return None


# -- the worker process -------------------------------------------------------------------------


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


def start_teaching(name, model, images, labels, data, slots, *, config=None, seed=0, alive=None, grace=30.0):
    """Start a teach job: a copy of `model` fine-tuned on `images` (n, 28, 28) uint8 with `labels` (n,).

    data: ("module:function", args), called in the worker for ((x_replay, y_replay), (x_test, y_test)),
    e.g. replay_source(dataset); the worker replays the first pair and scores the second before and
    after (mlp.adapt). `config` is an mlp.adapt.AdaptConfig (its defaults if None). The caller's
    model is never changed; the job's `model` becomes the taught one when it completes. Unusable
    drawings raise mlp.adapt.AdaptError here, before a worker starts.
    """
    check_drawings(images, labels)
    teach = Teach(images, labels, (config or AdaptConfig()).validate(), seed)
    return TrainingJob(name, copy.deepcopy(model), teach, data, slots=slots, alive=alive, grace=grace,
                       task=Task.TEACH).start()


def replay_source(dataset):
    """The loader spec of a data.Dataset's (training, test) pairs, for start_teaching."""
    return "webapp.training.jobs:load_replay_and_test", (dataset.name, str(dataset.source))


def load_replay_and_test(name, directory):
    """((x_train, y_train), (x_test, y_test)) of dataset `name` in `directory`: what a teach task replays and scores."""
    from data import load_dataset

    ds = load_dataset(name, directory=directory, verify=False)
    return (ds.x_train, ds.y_train), (ds.x_test, ds.y_test)


def load_training_split(name, directory):
    """(x_train, y_train) of dataset `name` read from `directory` (already checked by the server)."""
    from data import load_dataset

    ds = load_dataset(name, directory=directory, verify=False)
    return ds.x_train, ds.y_train
