"""A training run's complete state between epochs (TrainState): what a Trainer needs to go on bit for bit,
here or in another process. mlp.resume turns it into bytes and back; mlp.training takes and gives it."""

import copy
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .arrays import Floats
from .config import TrainConfig
from .network import MLP

__all__ = ["RNG_NAMES", "DataPrint", "RngState", "StateError", "TrainState"]

#: A bit generator's state as numpy gives it (`Generator.bit_generator.state`); for PCG64 four integers.
RngState = dict[str, Any]


class StateError(ValueError):
    """A TrainState (or its bytes) is inconsistent, or is not of this run; the message says what is wrong."""


#: The random streams a run's state carries: the Trainer's shuffling and augmentation, the model's dropout masks.
RNG_NAMES = ("shuffle", "augment", "dropout")


class DataPrint(NamedTuple):
    """What a state knows of the data it trains on: enough to refuse other data, cheap to check."""

    train_rows: int
    val_rows: int
    labels_crc32: int  # zlib.crc32 of the training rows' labels, then the validation labels, as int64


@dataclass
class TrainState:
    """A run between two epochs, complete: a Trainer given it goes on bit for bit as the run would have.

    From Trainer.state(); into Trainer(model, config, x, y, state=state); as bytes and back with
    mlp.resume (state_to_bytes, state_from_bytes). Arrays are copies, of the config's dtype.
    n below is the network's parameter count, every W then b of each layer in order.
    """

    config: TrainConfig
    layer_sizes: tuple[int, ...]  # [n_in, *config.hidden, n_out]
    epoch: int  # epochs of this run finished: where the schedule stands
    weights: list[Floats]  # the model's, as MLP.get_weights(): [W0 (n_in, h1), b0 (h1,), W1, b1, ...]
    moments: dict[str, Floats]  # the optimizer's, each (n,): "velocity" (momentum, nesterov), "m", "v" (adam)
    step: int  # optimizer steps taken (Adam's bias correction): epoch * batches per epoch
    rngs: dict[str, RngState]  # one per RNG_NAMES
    loss_ceiling: float | None  # the divergence watch (both None before the first batch)
    smoothed_loss: float | None
    spiked: bool
    best_loss: float  # early stopping: the best validation loss (inf: none yet)
    best: list[Floats] | None  # its weights, as `weights` (None: none yet)
    waited: int  # epochs since the validation loss last improved
    meta: dict[str, Any]  # the model's metadata, its history (one record per finished epoch) included
    data: DataPrint

    @property
    def finished(self) -> bool:
        """True if the run has nothing left to train (all its epochs, or early stopping's patience, spent)."""
        return self.epoch >= self.config.epochs or 0 < self.config.patience <= self.waited

    def model(self) -> MLP:
        """The run's model as this state holds it: a new MLP with its weights, metadata and dropout stream."""
        c = self.config
        model = MLP(self.layer_sizes, c.activation, dropout=c.dropout, seed=c.seed, dtype=c.dtype)
        model.set_weights(self.weights)
        model.meta = copy.deepcopy(self.meta)
        model.dropout_rng.bit_generator.state = copy.deepcopy(self.rngs["dropout"])
        return model

    def problem(self) -> str | None:
        """What makes this state inconsistent in itself (shapes, dtypes, values, counts), or None."""
        c = self.config
        if not isinstance(c, TrainConfig):
            return f"its settings are a {type(c).__name__}, not a TrainConfig"
        if found := c.problems():
            return f"its settings are invalid: {next(iter(found.values()))}"
        sizes = list(self.layer_sizes)
        if len(sizes) < 2 or tuple(sizes[1:-1]) != tuple(c.hidden) or not all(s > 0 for s in sizes):
            return f"layer sizes {sizes[:8]} do not match the hidden layers {list(c.hidden)} of its settings"
        shapes = [shape for a, b in zip(sizes[:-1], sizes[1:]) for shape in ((a, b), (b,))]
        n = sum(math.prod(shape) for shape in shapes)
        dtype = np.dtype(c.dtype)
        for name, arrays in (("weights", self.weights), ("best weights", self.best)):
            if arrays is None:
                continue
            if [getattr(a, "shape", None) for a in arrays] != shapes:
                return f"its {name} do not have the shapes of a {'-'.join(map(str, sizes))} network"
            if problem := _array_problem(name, arrays, dtype):
                return problem
        for name, moment in self.moments.items():
            if getattr(moment, "shape", None) != (n,):
                return f"optimizer moment {name!r} is not a vector of the network's {n:,} parameters"
            if problem := _array_problem(f"optimizer moment {name!r}", [moment], dtype):
                return problem
        if "v" in self.moments and (self.moments["v"] < 0).any():
            return "optimizer moment 'v' (squared gradients) has negative values"
        if not 0 <= self.epoch <= c.epochs:
            return f"epoch {self.epoch} is outside the run's 0..{c.epochs}"
        d = self.data
        if not (d.train_rows > 0 and d.val_rows >= 0 and 0 <= d.labels_crc32 < 2**32):
            return f"its data fingerprint {tuple(d)} is impossible"
        if self.step != self.epoch * math.ceil(d.train_rows / c.batch_size):
            return (f"{self.step:,} optimizer steps do not make {self.epoch} epochs of "
                    f"{math.ceil(d.train_rows / c.batch_size):,} batches")
        if sorted(self.rngs) != sorted(RNG_NAMES) or any(not _valid_rng_state(s) for s in self.rngs.values()):
            return f"its random generators must be PCG64 states named {', '.join(RNG_NAMES)}"
        return self._watch_problem() or self._early_stopping_problem() or self._history_problem()

    def _watch_problem(self) -> str | None:
        ceiling, smoothed = self.loss_ceiling, self.smoothed_loss
        if (ceiling is None) != (self.step == 0) or (smoothed is None) != (ceiling is None):
            return "the divergence watch's loss ceiling and smoothed loss must be set once a batch has run"
        if ceiling is not None and smoothed is not None and not (0 < ceiling < math.inf and 0 <= smoothed <= ceiling):
            return f"the divergence watch's smoothed loss {smoothed!r} must be within 0..{ceiling!r} (its ceiling)"
        return None

    def _early_stopping_problem(self) -> str | None:
        patience = self.config.patience
        if not 0 <= self.waited <= min(self.epoch, patience):
            return f"early stopping waited {self.waited} epochs, outside 0..{min(self.epoch, patience)}"
        if (self.best is None) != (self.best_loss == math.inf) or math.isnan(self.best_loss) or self.best_loss < 0:
            return f"early stopping's best loss {self.best_loss!r} does not match its best weights"
        if patience == 0 and self.best is not None:
            return "early stopping is off, yet the state holds best weights"
        return None

    def _history_problem(self) -> str | None:
        history = self.meta.get("history", [])
        if not isinstance(history, list) or len(history) < self.epoch:
            return f"the model's history must list at least the run's {self.epoch} finished epochs"
        return None


def _array_problem(name: str, arrays: list[Floats], dtype: np.dtype[Any]) -> str | None:
    if any(a.dtype != dtype for a in arrays):
        return f"{name}: not {dtype}, the dtype of its settings"
    if not all(np.isfinite(a).all() for a in arrays):
        return f"NaN or infinite values in its {name}"
    return None


def _valid_rng_state(state: object) -> bool:
    """True if `state` is a PCG64 bit generator's state numpy takes back as it is."""
    if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
        return False
    inner = state.get("state")
    if not (isinstance(inner, dict) and set(inner) == {"state", "inc"} and set(state) == {"bit_generator", "state",
                                                                                          "has_uint32", "uinteger"}):
        return False
    ints = [inner["state"], inner["inc"], state["has_uint32"], state["uinteger"]]
    limits = [2**128, 2**128, 2, 2**32]
    return all(type(v) is int and 0 <= v < limit for v, limit in zip(ints, limits))
