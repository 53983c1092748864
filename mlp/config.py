"""What a training run is asked for (TrainConfig, checked against the hyperparameter table) and what it
reports: a record per epoch, how it ended, and the errors it raises."""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any, Protocol

from .augment import AugmentConfig
from .hyperparams import DEFAULTS, TRAIN_PARAMS, check
from .io import loaded_bytes

__all__ = ["ConfigError", "DivergedError", "EpochRecord", "StopFlag", "TrainConfig", "TrainOutcome"]


class StopFlag(Protocol):
    """What a run polls to know it should stop: threading.Event, or anything with its is_set()."""

    def is_set(self) -> bool:
        """True once the run should stop."""
        ...


class TrainOutcome(StrEnum):
    """How a run ended. A StrEnum: model metadata (mlp.meta.stamp_outcome) and `--json` output record its value."""

    COMPLETED = "completed"
    STOPPED = "stopped"
    EARLY_STOPPED = "early_stopped"  # validation loss stopped improving for `patience` epochs
    DIVERGED = "diverged"


class ConfigError(ValueError):
    """A hyperparameter is out of range; the message names it and its value."""


class DivergedError(RuntimeError):
    """Training produced a non-finite loss or weights; the model holds the last good weights."""


@dataclass
class TrainConfig:
    """Every training hyperparameter, with defaults that train MNIST well.

    Defaults, valid ranges and what each field means live in mlp.hyperparams.TRAIN_PARAMS.
    """

    hidden: tuple[int, ...] = DEFAULTS["hidden"]
    activation: str = DEFAULTS["activation"]
    optimizer: str = DEFAULTS["optimizer"]
    lr: float = DEFAULTS["lr"]
    momentum: float = DEFAULTS["momentum"]
    batch_size: int = DEFAULTS["batch_size"]
    epochs: int = DEFAULTS["epochs"]
    weight_decay: float = DEFAULTS["weight_decay"]
    dropout: float = DEFAULTS["dropout"]
    schedule: str = DEFAULTS["schedule"]
    step_size: int = DEFAULTS["step_size"]
    gamma: float = DEFAULTS["gamma"]
    min_lr_fraction: float = DEFAULTS["min_lr_fraction"]
    val_fraction: float = DEFAULTS["val_fraction"]
    patience: int = DEFAULTS["patience"]  # early stopping on validation loss; 0 = off
    train_subset: int | None = DEFAULTS["train_subset"]  # use only this many training samples; None = all
    seed: int = DEFAULTS["seed"]
    dtype: str = DEFAULTS["dtype"]
    augment: AugmentConfig | None = None  # random distortions of each training batch; None = off

    def problems(self, n_samples: int | None = None, max_weight_bytes: int | None = None, n_in: int = 784,
                 n_out: int = 10) -> dict[str, str]:
        """{field: message} for every hyperparameter that makes no sense (empty if all is well).

        With n_samples, also checks the settings against a training set of that size; with
        max_weight_bytes, that the network's weights (n_in inputs, n_out classes) stay within it,
        as a model file must.
        """
        found: dict[str, str] = {}
        for name, param in TRAIN_PARAMS.items():
            message = None if name == "augment" else check(param, getattr(self, name))
            if message:
                found[name] = message
        if self.augment is not None:
            if not isinstance(self.augment, AugmentConfig):
                found["augment"] = f"augment must be an AugmentConfig or None, got {type(self.augment).__name__}"
            else:
                found.update({f"augment.{k}": v for k, v in self.augment.problems().items()})
        if n_samples is not None and not found.keys() & {"train_subset", "val_fraction", "batch_size"}:
            found.update(self._data_problems(n_samples))
        if max_weight_bytes is not None and not found.keys() & {"hidden", "dtype"}:
            cost = loaded_bytes([n_in, *self.hidden, n_out], self.dtype)
            if cost > max_weight_bytes:
                found["hidden"] = (f"a {'-'.join(map(str, [n_in, *self.hidden, n_out]))} network's weights take "
                                   f"{cost / 2**20:,.1f} MB, over this server's limit of "
                                   f"{max_weight_bytes / 2**20:,.1f} MB per model: use fewer or smaller layers")
        return found

    def _data_problems(self, n_samples: int) -> dict[str, str]:
        n = min(n_samples, self.train_subset) if self.train_subset else n_samples
        n_val = int(round(n * self.val_fraction))
        if n - n_val < 1:
            return {"val_fraction": f"no training samples left: {n} samples, val_fraction {self.val_fraction}"}
        if self.val_fraction > 0 and n_val < 1:
            return {"val_fraction": f"val_fraction {self.val_fraction} of {n} samples leaves no validation samples"}
        if self.batch_size > n - n_val:
            return {"batch_size": f"batch_size {self.batch_size} is larger than the {n - n_val} training samples"}
        return {}

    def validate(self, n_samples: int | None = None) -> "TrainConfig":
        """Raise ConfigError naming the first hyperparameter that makes no sense; returns self."""
        found = self.problems(n_samples)
        if found:
            raise ConfigError(next(iter(found.values())))
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every setting."""
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        d["augment"] = None if self.augment is None else self.augment.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        """Build from a dict, ignoring unknown keys (older or newer model files)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        if "hidden" in kwargs:
            kwargs["hidden"] = tuple(kwargs["hidden"])
        if isinstance(kwargs.get("augment"), dict):
            kwargs["augment"] = AugmentConfig.from_dict(kwargs["augment"])
        return cls(**kwargs)


@dataclass
class EpochRecord:
    """What one epoch did. seconds: training time; val_seconds: the validation pass."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    seconds: float
    val_seconds: float
    samples_per_second: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)
