"""The training loop: a generator the caller drives, one record per epoch.

    trainer = Trainer(model, config, x_train, y_train)
    for record in trainer.run(stop=event):
        show(record)
    trainer.outcome  # "completed", "stopped" or "early_stopped"

A stop request is honoured between batches; the model is then put back to the
weights of the last finished epoch, so it is always consistent and usable.
"""

import math
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .activations import ACTIVATIONS
from .network import MLP
from .optimizers import OPTIMIZERS, SCHEDULES, make_optimizer


class ConfigError(ValueError):
    """A hyperparameter is out of range; the message names it and its value."""


class DivergedError(RuntimeError):
    """Training produced a non-finite loss or weights; the model holds the last good weights."""


@dataclass
class TrainConfig:
    """Every training hyperparameter, with defaults that train MNIST well."""

    hidden: tuple = (256, 128)
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    batch_size: int = 128
    epochs: int = 10
    weight_decay: float = 0.0
    dropout: float = 0.0
    schedule: str = "constant"
    step_size: int = 10
    gamma: float = 0.1
    min_lr_fraction: float = 0.0
    val_fraction: float = 0.1
    patience: int = 0  # early stopping on validation loss; 0 = off
    train_subset: int = 0  # use only this many training samples; 0 = all
    seed: int = 0
    dtype: str = "float32"

    def validate(self):
        """Raise ConfigError naming the first hyperparameter that makes no sense."""
        def bad(name, why):
            raise ConfigError(f"{name} {why}, got {getattr(self, name)!r}")

        def is_int(v):
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        def is_num(v):
            return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)

        hidden = list(self.hidden)
        if not all(is_int(h) and h > 0 for h in hidden):
            raise ConfigError(f"hidden sizes must be positive integers, got {hidden}")
        if self.activation not in ACTIVATIONS:
            bad("activation", f"must be one of {sorted(ACTIVATIONS)}")
        if self.optimizer not in OPTIMIZERS:
            bad("optimizer", f"must be one of {sorted(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            bad("schedule", f"must be one of {sorted(SCHEDULES)}")
        if not (is_num(self.lr) and math.isfinite(self.lr) and self.lr > 0):
            bad("lr", "must be a finite number > 0")
        if not (is_num(self.momentum) and 0 <= self.momentum < 1):
            bad("momentum", "must be in [0, 1)")
        for name in ("batch_size", "epochs", "step_size"):
            if not (is_int(getattr(self, name)) and getattr(self, name) > 0):
                bad(name, "must be a positive integer")
        if not (is_num(self.weight_decay) and math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            bad("weight_decay", "must be a finite number >= 0")
        if not (is_num(self.dropout) and 0 <= self.dropout < 1):
            bad("dropout", "must be in [0, 1)")
        if not (is_num(self.gamma) and 0 < self.gamma <= 1):
            bad("gamma", "must be in (0, 1]")
        if not (is_num(self.min_lr_fraction) and 0 <= self.min_lr_fraction <= 1):
            bad("min_lr_fraction", "must be in [0, 1]")
        if not (is_num(self.val_fraction) and 0 <= self.val_fraction < 1):
            bad("val_fraction", "must be in [0, 1)")
        if not (is_int(self.patience) and self.patience >= 0):
            bad("patience", "must be an integer >= 0 (0 turns early stopping off)")
        if not (is_int(self.train_subset) and self.train_subset >= 0):
            bad("train_subset", "must be an integer >= 0 (0 means all samples)")
        if not is_int(self.seed) or self.seed < 0:
            bad("seed", "must be an integer >= 0")
        if self.dtype not in ("float32", "float64"):
            bad("dtype", "must be 'float32' or 'float64'")
        return self

    def check_data(self, n_samples):
        """Raise ConfigError if the settings cannot work with n_samples training samples."""
        n = min(n_samples, self.train_subset) if self.train_subset else n_samples
        n_val = int(round(n * self.val_fraction))
        if n - n_val < 1:
            raise ConfigError(f"no training samples left: {n} samples, val_fraction {self.val_fraction}")
        if self.val_fraction > 0 and n_val < 1:
            raise ConfigError(f"val_fraction {self.val_fraction} of {n} samples leaves no validation samples")
        if self.batch_size > n - n_val:
            raise ConfigError(
                f"batch_size {self.batch_size} is larger than the {n - n_val} training samples"
            )

    def to_dict(self):
        """JSON-ready dict of every setting."""
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d):
        """Build from a dict, ignoring unknown keys (older or newer model files)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        if "hidden" in kwargs:
            kwargs["hidden"] = tuple(kwargs["hidden"])
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

    def to_dict(self):
        """JSON-ready dict."""
        return asdict(self)


def to_inputs(images, dtype=np.float32):
    """uint8 images (n, 28, 28) or (n, 784) -> (n, 784) floats in [0, 1]."""
    images = np.asarray(images)
    flat = images.reshape(len(images), -1)
    if images.dtype == np.uint8:
        return np.multiply(flat, np.float32(1 / 255), dtype=dtype)
    return flat.astype(dtype, copy=False)


def split_validation(n, fraction, rng):
    """Shuffled (train_idx, val_idx) index arrays; val gets round(n * fraction) samples."""
    order = rng.permutation(n)
    n_val = int(round(n * fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


class Trainer:
    """Trains `model` on (x, y) with `config`; see the module docstring for use.

    x: (n, n_in) float inputs (see `to_inputs`), y: (n,) integer labels.
    The validation split is carved from (x, y) with the config's seed, unless
    `validation=(x_val, y_val)` is given. `progress(done, total)` is called a few
    times per epoch with batch counts, for progress bars.
    """

    def __init__(self, model, config, x, y, *, validation=None, progress=None):
        config.validate()
        config.check_data(len(x))
        if len(x) != len(y):
            raise ConfigError(f"{len(x)} inputs but {len(y)} labels")
        self.model, self.config, self.progress = model, config, progress
        rng = np.random.default_rng(config.seed)
        split_rng, subset_rng, self.shuffle_rng = rng.spawn(3)
        if config.train_subset and config.train_subset < len(x):
            keep = np.sort(subset_rng.permutation(len(x))[: config.train_subset])
            x, y = x[keep], y[keep]
        if validation is None and config.val_fraction > 0:
            train_idx, val_idx = split_validation(len(x), config.val_fraction, split_rng)
            validation = (x[val_idx], y[val_idx])
            x, y = x[train_idx], y[train_idx]
        self.x = model.cast(x)
        self.y = np.asarray(y, dtype=np.int64)
        self.validation = None if validation is None else (model.cast(validation[0]), np.asarray(validation[1], dtype=np.int64))
        self.optimizer = make_optimizer(
            config.optimizer, model.parameters(), momentum=config.momentum, weight_decay=config.weight_decay
        )
        self.outcome = None
        self.history = model.meta.setdefault("history", [])
        self._good = model.get_weights()  # weights after the last finished epoch

    def learning_rate(self, epoch):
        """The scheduled learning rate for a 0-based epoch of this run."""
        c = self.config
        return SCHEDULES[c.schedule](
            c.lr, epoch, c.epochs, step_size=c.step_size, gamma=c.gamma, min_lr_fraction=c.min_lr_fraction
        )

    def run(self, stop=None):
        """Yield an EpochRecord after each epoch; see the module docstring."""
        c = self.config
        best_loss, best_weights, waited = math.inf, None, 0
        first = len(self.history)
        for epoch in range(c.epochs):
            lr = self.learning_rate(epoch)
            started = time.perf_counter()
            # Overflow is how divergence shows; it is detected and reported, not warned about.
            with np.errstate(over="ignore", invalid="ignore"):
                result = self._epoch(lr, stop)
            if result is None:
                self.model.set_weights(self._good)
                self.outcome = "stopped"
                return
            train_loss, train_acc = result
            seconds = time.perf_counter() - started
            if not self.model.weights_finite():
                self._diverged(f"weights became non-finite in epoch {epoch + 1} (learning rate {lr:g})")
            val_loss = val_acc = None
            val_started = time.perf_counter()
            if self.validation is not None:
                ev = self.model.evaluate(*self.validation)
                val_loss, val_acc = ev.loss, ev.accuracy
            record = EpochRecord(
                epoch=first + epoch + 1,
                train_loss=train_loss,
                train_accuracy=train_acc,
                val_loss=val_loss,
                val_accuracy=val_acc,
                lr=lr,
                seconds=seconds,
                val_seconds=time.perf_counter() - val_started,
                samples_per_second=len(self.x) / seconds if seconds > 0 else float("inf"),
            )
            self._good = self.model.get_weights()
            self.history.append(record.to_dict())
            yield record
            if c.patience and val_loss is not None:
                if val_loss < best_loss:
                    best_loss, best_weights, waited = val_loss, self._good, 0
                else:
                    waited += 1
                    if waited >= c.patience:
                        self.model.set_weights(best_weights)
                        self.outcome = "early_stopped"
                        return
            if stop is not None and stop.is_set():
                self.outcome = "stopped"
                return
        self.outcome = "completed"

    def _epoch(self, lr, stop):
        """One pass over the shuffled training set; (mean loss, accuracy) or None if stopped."""
        model, bs, n = self.model, self.config.batch_size, len(self.x)
        order = self.shuffle_rng.permutation(n)
        n_batches = math.ceil(n / bs)
        report_every = max(1, n_batches // 20)
        total_loss = 0.0
        correct = 0
        for b, start in enumerate(range(0, n, bs)):
            if stop is not None and stop.is_set():
                return None
            idx = order[start:start + bs]
            xb = np.take(self.x, idx, axis=0)
            yb = self.y[idx]
            loss, probs = model.loss_and_grads(xb, yb)
            if not math.isfinite(loss):
                self._diverged(f"the loss became {loss} at batch {b + 1} (learning rate {lr:g})")
            self.optimizer.step(lr)
            total_loss += loss * len(idx)
            correct += int((probs.argmax(axis=1) == yb).sum())
            if self.progress is not None and (b % report_every == 0 or b == n_batches - 1):
                self.progress(b + 1, n_batches)
        return total_loss / n, correct / n

    def _diverged(self, why):
        self.model.set_weights(self._good)
        self.outcome = "diverged"
        raise DivergedError(
            f"training diverged: {why}. The model keeps the weights of the last good epoch; "
            "try a smaller learning rate."
        )


def build_model(config, n_in=784, n_out=10):
    """A fresh MLP shaped by the config (hidden sizes, activation, dropout, seed, dtype)."""
    config.validate()
    return MLP([n_in, *config.hidden, n_out], config.activation, dropout=config.dropout, seed=config.seed, dtype=config.dtype)
