"""A training job's states, and what a job and its worker process say to each other.

No Streamlit here, and nothing heavy: the worker (webapp/training/worker.py) imports this module in a
fresh interpreter. Messages are pickled between our own processes only, so both sides must
name the same classes: they live here, not in the worker (run as __main__) or in job.py.

The job writes one `Start` to the worker's stdin, then `Command` lines. `Start` carries the function the
worker calls for its data (a `Loader`), pickled by reference: the worker imports it from our own code,
and the pipe carries only what the server itself wrote, never a visitor's file. The worker answers
with `Progress` a few times per epoch, `Epoch` after each epoch, `Paused` when a pause takes
effect (after the epoch under way) and finally one `Done`. A teach task (Task.TEACH: fine-tune
on a user's drawings with mlp.adapt) uses the same messages: `Progress` per step, no `Epoch`
or `Paused`, and a `Done` that carries the taught model's metadata too.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # not imported at run time: the worker lowers its priority before numpy starts its threads
    import numpy as np
    from numpy.typing import NDArray

    from mlp import TrainConfig
    from mlp.adapt import AdaptConfig

#: What a worker calls for its data, its arguments bound: a functools.partial of a top-level function
#: (webapp.training.sources's, or a test's), never a lambda, so it pickles by reference. It returns (x, y)
#: for a training task, and ((x, y) to replay, (x, y) to test) for a teach task.
Loader = Callable[[], tuple[Any, Any]]


class JobState(StrEnum):
    """Where a training run is. A StrEnum, so `state == "running"` still holds for RUNNING."""

    QUEUED = "queued"  # waiting for a training slot (first, or again after a pause)
    RUNNING = "running"
    PAUSED = "paused"  # after an epoch, holding no slot, until resumed
    EVALUATING = "evaluating"  # training has ended; the test-set score is being computed
    COMPLETED = "completed"
    STOPPED = "stopped"
    EARLY_STOPPED = "early_stopped"
    DIVERGED = "diverged"
    FAILED = "failed"

    @property
    def done(self) -> bool:
        """True for the states a run ends in."""
        return self in DONE


DONE = frozenset({JobState.COMPLETED, JobState.STOPPED, JobState.EARLY_STOPPED, JobState.DIVERGED,
                  JobState.FAILED})


class Command(StrEnum):
    """What the job tells a running worker, one line each on its stdin."""

    PAUSE = "pause"  # hold after the epoch under way
    RESUME = "resume"  # go on after a pause
    STOP = "stop"  # end after the batch under way, keeping the last finished epoch

    @property
    def line(self) -> bytes:
        """The bytes written to the worker's stdin."""
        return self.value.encode() + b"\n"


class Task(StrEnum):
    """What a worker does with its model (a job's, from its config: a Teach teaches, a TrainConfig trains)."""

    TRAIN = "train"  # mlp.Trainer, epoch by epoch
    TEACH = "teach"  # mlp.adapt.adapt on a user's drawings, replaying the training set


class Start(NamedTuple):
    """The job's first message: what to train on, how, and the model as .npz file bytes."""

    data: Loader  # the worker calls it for its data
    config: TrainConfig | Teach  # a Teach makes it a teach task (Task.TEACH)
    model: bytes  # mlp.model_to_bytes(model); the worker rebuilds it with seed=config.seed


class Teach(NamedTuple):
    """A teach task's settings: the drawings to learn from and how (mlp.adapt)."""

    images: NDArray[np.uint8]  # (n, 28, 28) preprocessed drawings
    labels: NDArray[np.int64]  # (n,) digits
    adapt: AdaptConfig | None  # None for its defaults
    seed: int = 0


class Progress(NamedTuple):
    """Batches done out of the epoch's total."""

    done: int
    total: int


class Epoch(NamedTuple):
    """An epoch finished: its record (EpochRecord.to_dict()) and the weights after it."""

    record: dict[str, Any]
    weights: list[NDArray[Any]]


class Paused(NamedTuple):
    """A pause took effect: the worker waits for Command.RESUME or Command.STOP."""


class Done(NamedTuple):
    """The worker's last message: how training ended, why if it failed, the final weights."""

    outcome: JobState  # one of DONE
    error: str | None
    weights: list[NDArray[Any]] | None
    meta: dict[str, Any] | None = None  # TEACH: the taught model's metadata (name, test scores, meta["adapted"])
