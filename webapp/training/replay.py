"""Replaying a training run epoch by epoch. Pure NumPy, no Streamlit.

A TrainingJob (webapp/training/job.py) keeps the weights after each finished epoch in an
EpochWeights, as float16 copies within a memory budget; `evaluate_epoch` rebuilds the
network at one of those epochs (float32) and scores it on the test set, and a ReplayCache (the
server's: webapp.session.resources.replay_cache) keeps the scores so a slider moved back and
forth evaluates each epoch once.
"""

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, NamedTuple, TypeVar, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlp import MLP, to_inputs

__all__ = ["EPOCH_WEIGHTS_BUDGET", "EpochReplay", "EpochWeights", "ReplayCache", "compact",
           "evaluate_epoch", "model_at"]

# Bytes of stored weights per run. As float16 copies an epoch of 784-256-128-10 takes 0.47 MB
# (142 epochs fit), one of the pretrained 784-1024-1024-10 3.7 MB (18 fit; longer runs thin out).
EPOCH_WEIGHTS_BUDGET = 32 * 2**20
_FLOAT16_MAX = float(np.finfo(np.float16).max)
T = TypeVar("T")


def compact(weights: Sequence[ArrayLike]) -> list[NDArray[Any]]:
    """Read-only float16 copies of `weights` (as from MLP.get_weights); an array float16 cannot hold stays float32."""
    out = []
    for w in weights:
        w = np.asarray(w)
        fits = np.abs(w).max(initial=0.0) <= _FLOAT16_MAX
        c = w.astype(np.float16 if fits else np.float32)  # always a copy: the dtype differs, or copy=True
        c.flags.writeable = False
        out.append(c)
    return out


class EpochWeights:
    """One run's weights after each finished epoch, within `budget` bytes.

    The kept epochs are the run's first, its latest, and those on a grid counted from the first
    with stride 1, 2, 4, ...: when one more epoch would not fit, the stride doubles, which drops
    every other kept epoch and so keeps the spacing even (an epoch once dropped is never needed
    again). The first and the latest are kept even when those two alone exceed the budget.
    Not thread-safe: the job holds its lock around every call.
    """

    def __init__(self, budget: int = EPOCH_WEIGHTS_BUDGET) -> None:
        if budget < 0:
            raise ValueError(f"the epoch weights budget must be at least 0 bytes, got {budget}")
        self.budget = budget
        self.stride = 1
        self._first: int | None = None
        self._latest: int | None = None
        self._kept: dict[int, list[NDArray[Any]]] = {}  # epoch -> [W0, b0, W1, b1, ...] as from compact()

    def add(self, epoch: int, weights: list[NDArray[Any]]) -> None:
        """Keep `weights` (from compact()) as those after `epoch`, thinning the earlier ones if over budget."""
        if self._first is None:
            self._first = epoch
        if self._latest is not None and not self._on_grid(self._latest):
            del self._kept[self._latest]  # off the grid: kept only while it was the latest
        self._kept[epoch] = weights
        self._latest = epoch
        capacity = max(2, self.budget // max(1, sum(w.nbytes for w in weights)))
        while len(self._kept) > capacity:
            self.stride *= 2
            self._kept = {e: w for e, w in self._kept.items() if self._on_grid(e) or e == epoch}

    def _on_grid(self, epoch: int) -> bool:
        assert self._first is not None  # set by the first add()
        return (epoch - self._first) % self.stride == 0

    def as_dict(self) -> dict[int, list[NDArray[Any]]]:
        """{epoch: weights} for the kept epochs, in order (a new dict; the arrays are read-only)."""
        return dict(sorted(self._kept.items()))

    @property
    def nbytes(self) -> int:
        """Bytes held by the kept weights."""
        return sum(w.nbytes for ws in self._kept.values() for w in ws)

    def __len__(self) -> int:
        return len(self._kept)


class EpochReplay(NamedTuple):
    """The model at one epoch, scored on the test set."""

    epoch: int
    accuracy: float
    confusion_matrix: np.ndarray  # (k, k) int counts, rows true, columns predicted


def model_at(model: MLP, weights: Sequence[ArrayLike]) -> MLP:
    """A float32 MLP with `model`'s architecture and `weights` (e.g. one stored epoch's)."""
    twin = MLP(model.layer_sizes, model.activation, dropout=model.dropout, dtype="float32")
    twin.set_weights([np.asarray(w, dtype=np.float32) for w in weights])
    return twin


def evaluate_epoch(model: MLP, weights: Sequence[ArrayLike], x: ArrayLike, y: ArrayLike, epoch: int) -> EpochReplay:
    """EpochReplay of `model`'s architecture with `weights` on x and labels y (n,).

    x: uint8 images (n, 28, 28) or (n, 784), or inputs (n, n_in) as the network takes them.
    """
    ev = model_at(model, weights).evaluate(to_inputs(x), y)
    return EpochReplay(epoch, float(ev.accuracy), np.asarray(ev.confusion_matrix))


class ReplayCache:
    """Results per (run, key), the `per_run` most recently used of each run.

    Runs are held weakly: a run's results go when the run does, and a new run can never be
    handed an old one's results (as an id() reused after garbage collection could).
    """

    def __init__(self, per_run: int = 256) -> None:
        self.per_run = per_run
        # run -> OrderedDict key -> result
        self._runs: weakref.WeakKeyDictionary[object, OrderedDict[object, object]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()  # sessions run in threads of one server

    def get(self, run: object, key: Hashable, compute: Callable[[], T]) -> T:
        """The result cached for (run, key), else compute() (outside the lock), cached."""
        with self._lock:
            results = self._runs.setdefault(run, OrderedDict())
            if key in results:
                results.move_to_end(key)
                return cast(T, results[key])  # what compute() gave for this key before
        value = compute()
        with self._lock:
            results[key] = value
            while len(results) > self.per_run:
                results.popitem(last=False)
        return value
