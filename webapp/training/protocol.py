"""A training job's states, and what its engine tasks are given. No Streamlit, and nothing heavy.

The engine's workers import this module (through webapp/training/tasks.py) in interpreters that never
import Streamlit. A task is handed a `Loader`, the function it calls for its data, pickled by reference:
the worker imports it from our own code, and the engine carries only what the server itself wrote,
never a visitor's file. A teach task's drawings and settings come as a `Teach`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # not imported at run time: the worker lowers its priority before numpy starts its threads
    import numpy as np
    from numpy.typing import NDArray

    from mlp.adapt import AdaptConfig

#: What a worker calls for its data, its arguments bound: a functools.partial of a top-level function
#: (webapp.training.sources's, or a test's), never a lambda, so it pickles by reference. It returns (x, y)
#: for a training task, and ((x, y) to replay, (x, y) to test) for a teach task.
Loader = Callable[[], tuple[Any, Any]]


class JobState(StrEnum):
    """Where a training run is. A StrEnum, so `state == "running"` still holds for RUNNING."""

    QUEUED = "queued"  # its first task waits for a worker of the engine
    RUNNING = "running"
    PAUSED = "paused"  # after an epoch, submitting nothing, until resumed
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


class Task(StrEnum):
    """What a worker does with its model (a job's, from its config: a Teach teaches, a TrainConfig trains)."""

    TRAIN = "train"  # mlp.Trainer, epoch by epoch
    TEACH = "teach"  # mlp.adapt.adapt on a user's drawings, replaying the training set


class Teach(NamedTuple):
    """A teach task's settings: the drawings to learn from and how (mlp.adapt)."""

    images: NDArray[np.uint8]  # (n, 28, 28) preprocessed drawings
    labels: NDArray[np.int64]  # (n,) digits
    adapt: AdaptConfig | None  # None for its defaults
    seed: int = 0


