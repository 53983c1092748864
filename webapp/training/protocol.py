"""A training job's states, and what a job and its worker process say to each other.

No Streamlit here, and nothing heavy: the worker (webapp/training/worker.py) imports this module in a
fresh interpreter. Messages are pickled between our own processes only, so both sides must
name the same classes: they live here, not in the worker (run as __main__) or in jobs.py.

The job writes one `Start` to the worker's stdin, then `Command` lines. The worker answers
with `Progress` a few times per epoch, `Epoch` after each epoch, `Paused` when a pause takes
effect (after the epoch under way) and finally one `Done`. A teach task (Task.TEACH: fine-tune
on a user's drawings with mlp.adapt) uses the same messages: `Progress` per step, no `Epoch`
or `Paused`, and a `Done` that carries the taught model's metadata too.
"""

from enum import StrEnum
from typing import NamedTuple


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
    """What a worker does with its model."""

    TRAIN = "train"  # mlp.Trainer, epoch by epoch
    TEACH = "teach"  # mlp.adapt.adapt on a user's drawings, replaying the training set


class Start(NamedTuple):
    """The job's first message: what to train on, how, and the model as .npz file bytes."""

    data: tuple  # ("module:function", args): the worker calls it to get (x, y); for TEACH, (replay, test) pairs
    config: object  # mlp.TrainConfig; for TEACH, a Teach
    model: bytes  # mlp.model_to_bytes(model); the worker rebuilds it with seed=config.seed
    task: Task = Task.TRAIN


class Teach(NamedTuple):
    """A teach task's settings: the drawings to learn from and how (mlp.adapt)."""

    images: object  # (n, 28, 28) uint8 preprocessed drawings
    labels: object  # (n,) int64 digits
    adapt: object  # mlp.adapt.AdaptConfig, or None for its defaults
    seed: int = 0


class Progress(NamedTuple):
    """Batches done out of the epoch's total."""

    done: int
    total: int


class Epoch(NamedTuple):
    """An epoch finished: its record (EpochRecord.to_dict()) and the weights after it."""

    record: dict
    weights: list


class Paused(NamedTuple):
    """A pause took effect: the worker waits for Command.RESUME or Command.STOP."""


class Done(NamedTuple):
    """The worker's last message: how training ended, why if it failed, the final weights."""

    outcome: JobState  # one of DONE
    error: str | None
    weights: list | None
    meta: dict | None = None  # TEACH: the taught model's metadata (name, test scores, meta["adapted"])
