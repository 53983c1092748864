"""A training or teach run as pages see and steer it: its state, epochs, progress and controls. No Streamlit.

A TrainingJob trains on the task engine (webapp/training/engine.py), one epoch per task; a thread of the
server (webapp/training/relay.py) submits them and relays their results. This module holds what that
thread changes and pages read: `view()`, one consistent JobView; `snapshot`, a copy of the model
after the last finished epoch; and `epoch_weights()`, the weights after each finished epoch
within a memory budget (webapp/training/replay.py). A teach job (start_teaching in
webapp/training/start.py, a Teach config) goes the same way, queued like training.
"""

import copy
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from mlp import MLP, EpochRecord, TrainConfig
from webapp.training import relay
from webapp.training.engine import Engine
from webapp.training.memory import model_bytes
from webapp.training.protocol import DONE, JobState, Loader, Task, Teach
from webapp.training.replay import EPOCH_WEIGHTS_BUDGET, EpochWeights, compact
from webapp.training.signals import StopSignal

__all__ = ["JobView", "TrainingJob"]


class JobView(NamedTuple):
    """A job as pages see it, every field read at the same moment (see TrainingJob.view)."""

    name: str
    state: JobState
    epochs_done: int  # epochs finished in this run (a continued model's earlier ones not counted)
    epochs_total: int  # epochs this run was asked for
    pause_requested: bool
    queue_position: int | None  # 1-based place in line while QUEUED (its first epoch waits for a worker), else None
    progress: float  # fraction of this run's batches done, in [0, 1]
    eta_seconds: float | None
    samples_per_second: float | None  # of the last finished epoch
    error: str | None
    test_accuracy: float | None  # of the model so far (after EVALUATING: of this run's model)
    orphaned: bool
    epochs_before: int = 0  # a continued model's epochs from earlier runs (epochs_done does not count them)
    wait_seconds: float | None = None  # while QUEUED: about how long until it starts (None before a slice was timed)
    sharing: int = 0  # other runs of this server waiting for a turn meanwhile (the engine's workers are shared)

    @property
    def done(self) -> bool:
        """True once the run has ended, however it ended."""
        return self.state.done


class TrainingJob:
    """One user's training run: one-epoch tasks on the engine, relayed by a thread in the server.

    state (a JobState): QUEUED (its first task waits for a worker) -> RUNNING (its epochs take turns
    with other runs' on the engine's workers) -> EVALUATING -> one of COMPLETED, STOPPED,
    EARLY_STOPPED, DIVERGED, FAILED. A paused run goes RUNNING -> PAUSED (after the epoch under
    way; it submits nothing, so it holds no worker) -> RUNNING. A pause asked for before training
    starts (while QUEUED) takes effect after the first epoch. `finish(model)` is called
    in the relay thread once training ends with at least one finished epoch (e.g. to evaluate
    on the test set). `alive()` tells whether the owner is still there; a run whose owner has
    been gone for `grace` seconds stops by itself (`orphaned` is then True).
    `data` is what the engine's worker calls for its data (webapp.training.sources).

    Pages should read `view()`, one consistent snapshot; the attributes stay readable too.

    A Teach `config` makes it a teach job (task Task.TEACH): `data` loads (replay, test) pairs,
    progress counts adapt's steps as one "epoch", and once done the model and `snapshot` are the
    taught model with the metadata the worker sent.
    """

    DONE = DONE

    def __init__(self, name: str, model: MLP, config: TrainConfig | Teach, data: Loader, *, engine: Engine,
                 finish: Callable[[MLP], object] | None = None, alive: Callable[[], bool] | None = None,
                 grace: float = 30.0, epoch_weights_budget: int = EPOCH_WEIGHTS_BUDGET) -> None:
        self.name, self.config, self.data = name, config, data
        self.task = Task.TEACH if isinstance(config, Teach) else Task.TRAIN
        self.model: MLP | None = model  # None once a run that came to nothing lets its weights go
        self.epochs_total = 1 if isinstance(config, Teach) else config.epochs
        self.engine, self.finish = engine, finish
        self.lock = threading.Lock()  # held while the relay thread changes what view() reads
        self.state = JobState.QUEUED
        self.error: str | None = None
        self.records: list[EpochRecord] = []
        self.batch_progress = (0, 1)
        self.snapshot = copy.deepcopy(model) if model.meta.get("history") else None
        history = model.meta.get("history")
        self.epochs_before = len(history) if isinstance(history, list) and self.task is Task.TRAIN else 0
        self._epochs = EpochWeights(epoch_weights_budget)  # this run's epochs, for replaying them
        self.started_at: float | None = None
        self.training_started_at: float | None = None
        self.finished_at: float | None = None
        self.paused_seconds = 0.0  # time spent paused (and queued to resume), left out of the ETA
        self.paused_at: float | None = None  # while paused, or queued to resume
        self.stop_sent = False  # Stop has reached the engine (the task under way polls it)
        self.state_bytes: int | None = None  # the size of the run's state between slices, held by the relay
        self.stop_signal = StopSignal(alive, grace)
        self.pause_signal = threading.Event()  # set by pause(), cleared by resume()
        self._thread = threading.Thread(target=relay.run, args=(self,), name=f"train:{name}", daemon=True)

    # -- control ----------------------------------------------------------------

    def start(self) -> "TrainingJob":
        """Start the relay thread (it submits the run's first task)."""
        self.started_at = time.time()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to end; it keeps the last finished epoch. Returns at once."""
        self.stop_signal.set()

    def pause(self) -> None:
        """Ask the run to pause after the epoch under way (the first one, if still queued). Returns at once."""
        self.pause_signal.set()

    def resume(self) -> None:
        """Undo pause(): the run goes on (its next epoch takes its turn on the engine)."""
        self.pause_signal.clear()

    @property
    def pause_requested(self) -> bool:
        """True between pause() and resume(), whether or not the pause has taken effect yet."""
        return self.pause_signal.is_set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the relay thread to end; True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- what pages read ---------------------------------------------------------

    def view(self) -> JobView:
        """A JobView: state, epochs, pause flag, queue place, progress... all from one moment."""
        line = self.engine.line
        place, wait, waiting = line.position(self), line.wait_seconds(self), line.waiting
        with self.lock:
            state = self.state
            position = (place or 1) if state is JobState.QUEUED else None
            snapshot = self.snapshot
            acc = snapshot.meta.get("test_accuracy") if snapshot is not None else None
            return JobView(
                name=self.name, state=state, epochs_done=len(self.records), epochs_total=self.epochs_total,
                pause_requested=self.pause_signal.is_set(), queue_position=position, progress=self._progress(),
                wait_seconds=wait if state is JobState.QUEUED else None,
                sharing=max(0, waiting - (place is not None)) if state is JobState.RUNNING else 0,
                eta_seconds=self._eta_seconds(),
                samples_per_second=self.records[-1].samples_per_second if self.records else None,
                error=self.error, test_accuracy=acc if isinstance(acc, float) else None,
                orphaned=self.stop_signal.orphaned, epochs_before=self.epochs_before,
            )

    def epoch_weights(self) -> dict[int, list[Any]]:
        """{epoch: [W0, b0, ...]} after this run's finished epochs, thinned to the budget; float16, read-only.

        Epochs are numbered as in the model's history (a continued model's go on from its earlier
        runs). The latest is the last finished epoch; after early stopping the final model is
        the best epoch's instead, which may have been thinned out.
        """
        with self.lock:
            return self._epochs.as_dict()

    def busy(self) -> bool:
        """True while it trains, waits for a turn or is paused (webapp.session.budget counts a client's runs)."""
        return not self.done

    def memory_bytes(self) -> int:
        """Bytes this run holds in the server: its model, the last epoch's snapshot, the kept epochs and its state
        between slices (a run that ended before its first epoch holds none: it lets its model go). The engine's
        workers are not counted: there are a fixed number of them, each with its own memory limit."""
        with self.lock:
            models = {id(m): m for m in (self.model, self.snapshot) if m is not None}
            return sum(model_bytes(m) for m in models.values()) + self._epochs.nbytes + (self.state_bytes or 0)

    @property
    def orphaned(self) -> bool:
        """True if the run stopped because its owner went away."""
        return self.stop_signal.orphaned

    @property
    def done(self) -> bool:
        """True once the run has ended, however it ended."""
        return self.state.done

    @property
    def queue_position(self) -> int | None:
        """1-based place in line while queued, else None."""
        return self.engine.line.position(self) if self.state is JobState.QUEUED else None

    def progress(self) -> float:
        """Fraction of all batches done, in [0, 1]."""
        with self.lock:
            return self._progress()

    def eta_seconds(self) -> float | None:
        """Estimated seconds left, from the pace so far; None before the first batches."""
        with self.lock:
            return self._eta_seconds()

    def _progress(self) -> float:
        done, total = self.batch_progress
        return min(1.0, (len(self.records) + done / total) / self.epochs_total)

    def _eta_seconds(self) -> float | None:
        if self.training_started_at is None or self.state.done or self.paused_at is not None:
            return None
        fraction = self._progress()
        if fraction <= 0:
            return None
        elapsed = time.time() - self.training_started_at - self.paused_seconds
        return elapsed / fraction * (1 - fraction)

    # -- what the relay thread changes (webapp/training/relay.py) -----------------------

    def update(self, **fields: object) -> None:
        """Change what view() reads, all at once."""
        with self.lock:
            for name, value in fields.items():
                setattr(self, name, value)

    def add_epoch(self, record: dict[str, Any], weights: list[Any]) -> None:
        """An epoch finished in the worker: its record (EpochRecord.to_dict()) and the weights after it."""
        assert self.model is not None  # let go only once the run has ended
        self.model.set_weights(weights)
        self.model.meta.setdefault("history", []).append(record)
        snapshot = copy.deepcopy(self.model)
        kept = compact(weights)
        with self.lock:
            self.records.append(EpochRecord(**record))
            self.batch_progress = (0, 1)
            self.snapshot = snapshot
            self._epochs.add(record["epoch"], kept)

    def progressed(self, done: int, total: int) -> None:
        """A progress event of the job's task under way (from the engine's event thread): `done` of `total`
        batches; the first one says the task has started."""
        self.engine.line.leave(self)
        with self.lock:
            if self.state is JobState.QUEUED:
                self.state = JobState.RUNNING
            if self.training_started_at is None:
                self.training_started_at = time.time()
            if done:
                self.batch_progress = (done, max(total, 1))

    def resumed(self) -> None:
        """Going on after a pause: RUNNING again, the pause's time left out of the ETA."""
        with self.lock:
            assert self.paused_at is not None  # set when the pause began
            self.paused_seconds += time.time() - self.paused_at
            self.paused_at = None
            self.state = JobState.RUNNING
