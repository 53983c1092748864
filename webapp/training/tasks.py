"""The engine's task functions: a slice of a training run, and a teach. Run in engine workers; no Streamlit.

A worker imports this module by name when it unpickles a task (the project must be importable there,
as it is in the embedded engine's workers and in deploy/'s). What a task needs comes in its arguments:
the data as a Loader (webapp.training.sources: the worker reads its own copy once and keeps it), the
run as bytes (a model file for a run's first slice, else mlp.resume's state of the run so far), and
plain settings. What it did goes back as plain data (`Sliced`, `Taught`); its progress as scheduler
events on engine.PROGRESS_TOPIC; it stops, after the batch under way, when the run's stop Event is set.

Nothing here imports numpy at module level: the task lowers its thread's priority first.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, NamedTuple

from webapp.training.engine import PROGRESS_TOPIC, Flag
from webapp.training.protocol import JobState, Loader, Teach

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from mlp import MLP, TrainConfig, TrainOutcome
    from mlp.adapt import AdaptOutcome
    from mlp.memory import Memory

__all__ = ["Sliced", "Taught", "rebuild_model", "taught_state", "teach", "train_slice", "trained_state"]

WORKER_NICENESS = 10
KEPT_DATASETS = 2  # a worker keeps this many datasets read (the training split is ~50 MB as uint8)
FLAG_POLL_SECONDS = 0.25  # how often a task asks the scheduler whether its run was stopped (or paused)
PROGRESS_SECONDS = 0.1  # at most one progress event per this many seconds (and one as the task starts)


class Sliced(NamedTuple):
    """What a slice of a run did: its epochs, the state to go on from, and how the run ended if it did."""

    records: list[dict[str, Any]]  # EpochRecord.to_dict() of each epoch finished in this slice
    weights: list[list[NDArray[Any]]]  # the weights after each of those epochs
    state: bytes | None  # mlp.resume's bytes after the last finished epoch; None once the run has ended
    outcome: JobState | None  # None: the run has epochs left
    error: str | None  # why it diverged or failed
    final: list[NDArray[Any]] | None  # the run's final weights once it has ended (early stopping: the best epoch's)
    seconds: float  # worker time the slice took


class Taught(NamedTuple):
    """What a teach did: how it ended, why if it failed, and the taught model's weights, its metadata (with what
    teaching did) and its memory of the drawings if it keeps one. Arrays, not a model file: reading a file's
    headers in the server's relay thread parses Python literals, which CPython 3.11 cannot do safely while a page
    script is compiled in another thread (python/cpython#106905; seen in CI as SystemError)."""

    outcome: JobState
    error: str | None
    weights: list[NDArray[Any]] | None
    meta: dict[str, Any] | None
    memory: Memory | None


_local = threading.local()
_datasets: OrderedDict[str, Any] = OrderedDict()
_datasets_lock = threading.Lock()


def lower_priority() -> None:
    """Training is batch work: it must never keep a server that shares the machine from answering a page.

    Linux's SCHED_IDLE runs a thread only on CPU time no other thread wants (at full speed when nothing
    else does); nice 10 where that is not allowed. Both apply to the calling thread only (the engine
    worker's task thread, where the run's NumPy and its one BLAS thread work), once per thread.
    """
    if getattr(_local, "lowered", False):
        return
    _local.lowered = True
    os.nice(WORKER_NICENESS)
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not allowed: nice 10 it is
        pass


def _data(loader: Loader) -> Any:
    """What `loader` returns, read once per worker for the last KEPT_DATASETS loaders asked for."""
    from dask.base import tokenize

    key = tokenize(loader)
    with _datasets_lock:
        if key in _datasets:
            _datasets.move_to_end(key)
            return _datasets[key]
    data = loader()
    with _datasets_lock:
        _datasets[key] = data
        while len(_datasets) > KEPT_DATASETS:
            _datasets.popitem(last=False)
    return data


class _Flag:
    """Event-like for the Trainer: is the run's `flag` set (engine.Flag)? Asked of the scheduler at most every
    FLAG_POLL_SECONDS; once set, it stays set."""

    def __init__(self, flag: Flag, run: str) -> None:
        from distributed import Event

        self.event = Event(flag.event_name(run))
        self._asked, self._set = 0.0, False

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self._set and now - self._asked >= FLAG_POLL_SECONDS:
            self._asked, self._set = now, self.event.is_set()
        return self._set


class _Progress:
    """progress(done, total) as events on PROGRESS_TOPIC: one at once (the task has started), then sparser."""

    def __init__(self, tag: str) -> None:
        from distributed import get_worker

        self.tag, self.worker, self._sent = tag, get_worker(), 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._sent >= PROGRESS_SECONDS or done == 0:
            self._sent = now
            self.worker.log_event(PROGRESS_TOPIC, (self.tag, done, total))


def rebuild_model(model_bytes: bytes, seed: int) -> MLP:
    """The model in `model_bytes` (a .npz file's content), with dropout masks drawn from `seed`.

    load_model seeds a fresh MLP with 0; building the architecture with the run's seed and
    then setting the weights gives the masks `MLP(..., seed=seed)` gives, so a run in the engine
    trains bit for bit like the same run in-process.
    """
    from mlp import MLP, load_model

    loaded = load_model(model_bytes)
    model = MLP(loaded.layer_sizes, loaded.activation, dropout=loaded.dropout, seed=seed, dtype=loaded.dtype.name)
    model.set_weights(loaded.get_weights())
    model.meta = loaded.meta
    return model


def trained_state(outcome: TrainOutcome) -> JobState:
    """The state a training run ends in, for each way mlp.Trainer's run can end.

    Named one by one, not looked up by value: the two enums share values today, but a JobState
    must never appear because an outcome happens to be spelled like one.
    """
    from mlp import TrainOutcome

    states = {
        TrainOutcome.COMPLETED: JobState.COMPLETED,
        TrainOutcome.STOPPED: JobState.STOPPED,
        TrainOutcome.EARLY_STOPPED: JobState.EARLY_STOPPED,
        TrainOutcome.DIVERGED: JobState.DIVERGED,
    }
    return states[outcome]


def taught_state(outcome: AdaptOutcome) -> JobState:
    """The state a teach run ends in, for each way mlp.adapt can end."""
    from mlp.adapt import AdaptOutcome

    states = {AdaptOutcome.COMPLETED: JobState.COMPLETED, AdaptOutcome.STOPPED: JobState.STOPPED}
    return states[outcome]


def train_slice(data: Loader, run: str, tag: str, start: bytes, config: TrainConfig | None,
                epochs: int = 1) -> Sliced:
    """Train run `run` at most `epochs` more epochs on the data `data` loads; progress events carry `tag`. It ends
    early, after an epoch, once the run's pause Event is set.

    start: with `config`, the model file to start the run from (its first slice); without, mlp.resume's
    bytes of the run so far. Bytes the server made, but checked all the same as they are read.
    """
    lower_priority()
    began = time.perf_counter()
    progress = _Progress(tag)
    progress(0, 1)  # started: the server's page stops showing a place in line
    from mlp import DivergedError, Trainer
    from mlp.resume import state_from_bytes, state_to_bytes

    x, y = _data(data)
    if config is not None:
        model = rebuild_model(start, config.seed)
        trainer = Trainer(model, config, x, y, progress=progress)
    else:
        state = state_from_bytes(start)
        model = state.model()
        trainer = Trainer(model, state.config, x, y, progress=progress, state=state)
    records: list[dict[str, Any]] = []
    weights: list[list[Any]] = []
    pause = _Flag(Flag.PAUSE, run)
    try:
        for record in trainer.run(_Flag(Flag.STOP, run), epochs=epochs):
            records.append(record.to_dict())
            weights.append(model.get_weights())
            if pause.is_set():  # a pause takes effect after the epoch under way, not the slice's last
                break
    except DivergedError as e:
        return Sliced(records, weights, None, JobState.DIVERGED, str(e), model.get_weights(),
                      time.perf_counter() - began)
    if trainer.outcome is None:
        return Sliced(records, weights, state_to_bytes(trainer.state()), None, None, None, time.perf_counter() - began)
    return Sliced(records, weights, None, trained_state(trainer.outcome), None, model.get_weights(),
                  time.perf_counter() - began)


def teach(data: Loader, run: str, tag: str, model_bytes: bytes, lesson: Teach) -> Taught:
    """Fine-tune the model in `model_bytes` on the drawings in `lesson`, replaying the training set (mlp.adapt)."""
    lower_priority()
    progress = _Progress(tag)
    progress(0, 1)
    from mlp import DivergedError
    from mlp.adapt import AdaptError, adapt, replay_and_check

    train, test = _data(data)
    model = rebuild_model(model_bytes, lesson.seed)
    try:
        replay, check = replay_and_check(model, *train)
        result = adapt(model, lesson.images, lesson.labels, replay=replay, check=check, test=test,
                       config=lesson.adapt, seed=lesson.seed, progress=progress, stop=_Flag(Flag.STOP, run))
    except (AdaptError, DivergedError) as e:  # the message says what is wrong, as it stands
        return Taught(JobState.DIVERGED if isinstance(e, DivergedError) else JobState.FAILED, str(e), None, None,
                      None)
    except Exception as e:  # noqa: BLE001 - reported to the page, never lost
        return Taught(JobState.FAILED, traceback.format_exception_only(type(e), e)[-1].strip(), None, None, None)
    state = taught_state(result.outcome)
    if result.model is None:  # stopped: nothing was taught
        return Taught(state, None, None, None, None)
    return Taught(state, None, result.model.get_weights(), result.model.meta, result.model.memory)
