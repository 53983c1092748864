"""The training loop: a generator the caller drives, one record per epoch.

    trainer = Trainer(model, config, x_train, y_train)
    for record in trainer.run(stop=event):
        show(record)
    trainer.outcome  # a TrainOutcome: COMPLETED, STOPPED, EARLY_STOPPED or DIVERGED

A stop request is honoured between batches; the model is then put back to the
weights of the last finished epoch, so it is always consistent and usable. A run
that diverges raises DivergedError (outcome DIVERGED) with the weights of the
last finished epoch in place.

A run can also go in slices, each elsewhere (another process, another machine):

    for record in trainer.run(epochs=1):     # at most one more epoch; outcome None if epochs are left
        show(record)
    state = trainer.state()                   # a TrainState: everything the run needs to go on
    trainer = Trainer(model, config, x_train, y_train, state=state)  # here or elsewhere: goes on bit for bit

mlp.resume turns a TrainState into bytes and back (checked, never pickled) and trains one slice
from such bytes (`advance`).
"""

import copy
import math
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .arrays import Floats, Inputs, Ints, Labels
from .augment import augment_batch
from .config import ConfigError, DivergedError, EpochRecord, StopFlag, TrainConfig, TrainOutcome
from .distil import Teachers
from .losses import NOT_A_CLASS
from .network import MLP
from .optimizers import SCHEDULES, make_optimizer
from .train_state import RNG_NAMES, DataPrint, StateError, TrainState

DIVERGENCE_FACTOR = 3.0


def to_inputs(images: ArrayLike, dtype: DTypeLike = np.float32, out: Floats | None = None) -> Floats:
    """uint8 images (n, 28, 28) or (n, 784) -> (n, 784) floats in [0, 1] (written into `out` if given)."""
    images = np.asarray(images)
    flat = images.reshape(len(images), -1)
    if images.dtype == np.uint8:
        scaled: Floats = np.multiply(flat, np.float32(1 / 255), dtype=dtype, out=out)
        return scaled
    if out is None:
        return flat.astype(dtype, copy=False)
    np.copyto(out, flat)
    return out


def split_validation(n: int, fraction: float, rng: np.random.Generator) -> tuple[Ints, Ints]:
    """Shuffled (train_idx, val_idx) index arrays; val gets round(n * fraction) samples."""
    order = rng.permutation(n)
    n_val = int(round(n * fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _streams(seed: int) -> list[np.random.Generator]:
    """The run's random streams: split, subset, shuffle, augment.

    Separate streams: turning augmentation on leaves the split and the shuffling unchanged.
    """
    return np.random.default_rng(seed).spawn(4)


def rows_used(config: TrainConfig, n: int, carve_validation: bool = True) -> tuple[Ints, Ints]:
    """(train_idx, val_idx): the rows of an n-row dataset a Trainer with this config trains and validates on.

    Known before training, so data made from the training rows (e.g. pen drawings of them) can
    leave the validation rows unseen.
    """
    split_rng, subset_rng, _, _ = _streams(config.seed)
    idx = np.arange(n)
    if config.train_subset and config.train_subset < n:
        idx = np.sort(subset_rng.permutation(n)[: config.train_subset])
    if not (carve_validation and config.val_fraction > 0):
        return idx, np.arange(0)
    train_pos, val_pos = split_validation(len(idx), config.val_fraction, split_rng)
    return idx[train_pos], idx[val_pos]


class Trainer:
    """Trains `model` on (x, y) with `config`; see the module docstring for use.

    x: (n, 28, 28) uint8 images or (n, n_in) inputs; y: (n,) integer labels.
    The data is never copied: batches are gathered by index and uint8 pixels are
    scaled to [0, 1] per batch, so many runs can share one copy of a dataset.
    The validation split is carved from (x, y) with the config's seed, unless
    `validation=(x_val, y_val)` is given; `val_idx` holds the rows of x it took.
    `extra=(x_extra, y_extra)` adds inputs that always train and never validate (generated
    drawings; labels may be NOT_A_CLASS for inputs that are no class): x and x_extra are then
    copied into one array. `progress(done, total)` is called a few times per epoch with batch
    counts, for progress bars.
    `state` (a TrainState of this config, architecture and data; see Trainer.state) puts the run
    where that state left it: weights, optimizer, random streams, early stopping, divergence watch,
    and the model's metadata (model.meta is replaced by the state's).
    `teachers` (mlp.distil) mixes their reading of each batch into its targets.
    """

    def __init__(self, model: MLP, config: TrainConfig, x: Inputs, y: Labels, *,
                 validation: tuple[Inputs, Labels] | None = None,
                 progress: Callable[[int, int], object] | None = None,
                 extra: tuple[Inputs, Labels] | None = None, state: TrainState | None = None,
                 teachers: Teachers | None = None) -> None:
        if len(x) != len(y):
            raise ConfigError(f"{len(x)} inputs but {len(y)} labels")
        config.validate(len(x))
        self.model, self.config, self.progress = model, config, progress
        self.teachers = None if teachers is None else teachers.check(model)
        _, _, self.shuffle_rng, self.augment_rng = _streams(config.seed)
        self.x: Inputs = np.asarray(x).reshape(len(x), -1)  # a view, not a copy
        self.y: Ints = np.asarray(y, dtype=np.int64)
        idx, self.val_idx = rows_used(config, len(x), carve_validation=validation is None)
        if len(self.val_idx):
            validation = (self.x[self.val_idx], self.y[self.val_idx])
        if extra is not None:
            idx = np.concatenate([idx, len(self.x) + np.arange(len(extra[0]))])
            self.x, self.y = self._append(extra)
        self.train_idx = idx
        self.validation: tuple[Floats, Ints] | None = None
        if validation is not None:
            x_val = np.asarray(validation[0])
            self.validation = (self._inputs(x_val.reshape(len(x_val), -1)), np.asarray(validation[1], dtype=np.int64))
        # Speed: the optimizer updates the network's two flat parameter vectors, not each array.
        self.optimizer = make_optimizer(
            config.optimizer, model.flat_parameters(), momentum=config.momentum, weight_decay=config.weight_decay
        )
        # (raw rows, model inputs), reused by every batch: see _gather
        self._batch_arrays: tuple[Inputs, Floats] | None = None
        self.outcome: TrainOutcome | None = None
        # A batch loss several times above both chance (guessing uniformly costs ln k) and where
        # this run started only happens when the steps overshoot: such runs collapse to chance
        # accuracy without ever producing a NaN. Set from the first batch in _watch_divergence.
        self.loss_ceiling: float | None = None
        self._smoothed: float | None = None
        self._spiked = False
        self.history: list[dict[str, Any]] = model.meta.setdefault("history", [])
        self._good = model.get_weights()  # weights after the last finished epoch
        self.epoch = 0  # epochs of this run finished
        self._first = len(self.history)  # the history's length when this run started
        # Early stopping: the best validation loss, its weights, and epochs since it improved.
        self.best_weights: list[Floats] | None = None
        self.best_loss, self.waited = math.inf, 0
        self._torn = False  # an epoch was cut short (stopped, diverged): the optimizer and streams are mid-epoch
        labels = [self.y[self.train_idx]] + ([] if self.validation is None else [self.validation[1]])
        crc = 0
        for part in labels:
            crc = zlib.crc32(np.ascontiguousarray(part, dtype=np.int64).tobytes(), crc)
        self.data = DataPrint(len(self.train_idx), 0 if self.validation is None else len(self.validation[1]), crc)
        if state is not None:
            self._resume(state)

    def _resume(self, state: TrainState) -> None:
        """Put this fresh Trainer where `state` left its run; StateError if it is not a state of this run."""
        if problem := state.problem():
            raise StateError(f"training state refused: {problem}")
        ours, theirs = self.config.to_dict(), state.config.to_dict()
        if ours != theirs:
            differ = ", ".join(k for k in ours if ours[k] != theirs.get(k))
            raise StateError(f"training state refused: it is of a run with other settings ({differ})")
        m, c = self.model, self.config
        if (list(state.layer_sizes) != m.layer_sizes or (m.activation, m.dropout, m.dtype.name)
                != (c.activation, c.dropout, c.dtype)):
            raise StateError(f"training state refused: it is of a {'-'.join(map(str, state.layer_sizes))} "
                             f"{c.activation} network (dropout {c.dropout}, {c.dtype}), not this "
                             f"{'-'.join(map(str, m.layer_sizes))} {m.activation} one (dropout {m.dropout}, "
                             f"{m.dtype.name})")
        if tuple(state.data) != tuple(self.data):
            raise StateError(f"training state refused: it is of a run on other data ({state.data}, here {self.data})")
        if sorted(state.moments) != sorted(self.optimizer.moment_names):
            raise StateError(f"training state refused: optimizer moments {sorted(state.moments)}, "
                             f"but {self.config.optimizer} keeps {sorted(self.optimizer.moment_names)}")
        self.model.set_weights(state.weights)
        self.model.meta = copy.deepcopy(state.meta)
        self.history = self.model.meta.setdefault("history", [])
        self.optimizer.load_moments(state.moments, state.step)
        for name, rng in zip(RNG_NAMES, self._rngs()):
            rng.bit_generator.state = copy.deepcopy(state.rngs[name])
        self.epoch, self._first = state.epoch, len(self.history) - state.epoch
        self.loss_ceiling, self._smoothed, self._spiked = state.loss_ceiling, state.smoothed_loss, state.spiked
        self.best_loss, self.waited = state.best_loss, state.waited
        self.best_weights = None if state.best is None else [a.copy() for a in state.best]
        self._good = self.model.get_weights()

    def _rngs(self) -> tuple[np.random.Generator, ...]:
        """The run's random streams, in RNG_NAMES' order (dropout's is the model's: its layers share it)."""
        return self.shuffle_rng, self.augment_rng, self.model.dropout_rng

    def state(self) -> TrainState:
        """The run's complete state after its last finished epoch, as copies (see TrainState).

        Raises RuntimeError after a run was stopped mid-epoch or diverged: its optimizer and random
        streams are then part-way through an epoch that never finished; and for a run with teachers,
        which a state does not keep.
        """
        if self._torn:
            raise RuntimeError("this run was stopped or diverged during an epoch: it has no state to go on from")
        if self.teachers is not None:  # a state does not keep them: a resumed run would go on without them
            raise RuntimeError("a run that learns from teachers has no state to go on from")
        return TrainState(
            config=TrainConfig.from_dict(self.config.to_dict()),
            layer_sizes=tuple(self.model.layer_sizes),
            epoch=self.epoch,
            weights=self.model.get_weights(),
            moments=self.optimizer.moments(),
            step=self.optimizer.t,
            rngs={name: copy.deepcopy(dict(rng.bit_generator.state)) for name, rng in zip(RNG_NAMES, self._rngs())},
            loss_ceiling=self.loss_ceiling,
            smoothed_loss=self._smoothed,
            spiked=self._spiked,
            best_loss=self.best_loss,
            best=None if self.best_weights is None else [a.copy() for a in self.best_weights],
            waited=self.waited,
            meta=copy.deepcopy(self.model.meta),
            data=self.data,
        )

    def _append(self, extra: tuple[Inputs, Labels]) -> tuple[Inputs, Ints]:
        """(x, y) with the extra inputs and labels after the dataset's (a copy of both)."""
        x_extra, y_extra = np.asarray(extra[0]), np.asarray(extra[1], dtype=np.int64)
        if len(x_extra) != len(y_extra):
            raise ConfigError(f"extra: {len(x_extra)} inputs but {len(y_extra)} labels")
        x_extra = x_extra.reshape(len(x_extra), -1)
        if x_extra.shape[1] != self.x.shape[1] or x_extra.dtype != self.x.dtype:
            raise ConfigError(f"extra inputs must be {self.x.dtype} rows of {self.x.shape[1]} values like the "
                              f"dataset's, got {x_extra.dtype} rows of {x_extra.shape[1]}")
        k = self.model.layer_sizes[-1]
        if len(y_extra) and not ((y_extra >= NOT_A_CLASS) & (y_extra < k)).all():
            raise ConfigError(f"extra labels must be in 0..{k - 1} or {NOT_A_CLASS} (no class)")
        return np.concatenate([self.x, x_extra]), np.concatenate([self.y, y_extra])

    def _inputs(self, rows: Inputs) -> Floats:
        """Raw rows (uint8 pixels or floats) as the model's float inputs."""
        return self.model.cast(to_inputs(rows, self.model.dtype))

    def learning_rate(self, epoch: int) -> float:
        """The scheduled learning rate for a 0-based epoch of this run."""
        c = self.config
        return SCHEDULES[c.schedule](
            c.lr, epoch, c.epochs, step_size=c.step_size, gamma=c.gamma, min_lr_fraction=c.min_lr_fraction
        )

    def run(self, stop: StopFlag | None = None, *, epochs: int | None = None) -> Iterator[EpochRecord]:
        """Yield an EpochRecord after each epoch; see the module docstring.

        Goes on from the last finished epoch (none, or a state's). With `epochs`, returns after at
        most that many more: `outcome` is then None if the run has epochs left.
        """
        c = self.config
        if self._torn:
            raise RuntimeError("this run was stopped or diverged during an epoch: it cannot go on")
        self.outcome = None
        end = c.epochs if epochs is None else min(c.epochs, self.epoch + epochs)
        if self._patience_spent():  # a state taken after the epoch that spent it
            self._stop_early()
            return
        while self.epoch < end:
            epoch = self.epoch
            lr = self.learning_rate(epoch)
            started = time.perf_counter()
            self._torn = True
            # Overflow is how divergence shows; it is detected and reported, not warned about.
            with np.errstate(over="ignore", invalid="ignore"):
                result = self._epoch(lr, stop)
            if result is None:
                self.model.set_weights(self._good)
                self.outcome = TrainOutcome.STOPPED
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
            self._torn = False
            record = EpochRecord(
                epoch=self._first + epoch + 1,
                train_loss=train_loss,
                train_accuracy=train_acc,
                val_loss=val_loss,
                val_accuracy=val_acc,
                lr=lr,
                seconds=seconds,
                val_seconds=time.perf_counter() - val_started,
                samples_per_second=len(self.train_idx) / seconds if seconds > 0 else float("inf"),
            )
            self._good = self.model.get_weights()
            self.history.append(record.to_dict())
            self.epoch += 1
            # Before the yield, so that a state taken there knows this epoch's loss.
            if c.patience and val_loss is not None:
                if val_loss < self.best_loss:
                    self.best_loss, self.best_weights, self.waited = val_loss, self._good, 0
                else:
                    self.waited += 1
            yield record
            if self._patience_spent():
                self._stop_early()
                return
            if stop is not None and stop.is_set():
                self.outcome = TrainOutcome.STOPPED
                return
        if self.epoch >= c.epochs:
            self.outcome = TrainOutcome.COMPLETED

    def _patience_spent(self) -> bool:
        return 0 < self.config.patience <= self.waited

    def _stop_early(self) -> None:
        # best_weights is None only if no validation loss ever compared (NaN): keep this epoch's.
        self.model.set_weights(self._good if self.best_weights is None else self.best_weights)
        self.outcome = TrainOutcome.EARLY_STOPPED

    def _epoch(self, lr: float, stop: StopFlag | None) -> tuple[float, float] | None:
        """One pass over the shuffled training set; (mean loss, accuracy) or None if stopped."""
        model, bs, n = self.model, self.config.batch_size, len(self.train_idx)
        order = self.train_idx[self.shuffle_rng.permutation(n)]
        n_batches = math.ceil(n / bs)
        report_every = max(1, n_batches // 20)
        total_loss = 0.0
        correct = labelled = 0
        for b, start in enumerate(range(0, n, bs)):
            if stop is not None and stop.is_set():
                return None
            idx = order[start:start + bs]
            xb = self._gather(idx)
            yb = self.y[idx]
            targets = None if self.teachers is None else self.teachers.targets(xb, yb)
            loss, probs = model.loss_and_grads(xb, yb, targets=targets)
            self._watch_divergence(loss, b, lr)
            self.optimizer.step(lr)
            total_loss += loss * len(idx)
            correct += int((probs.argmax(axis=1) == yb).sum())
            labelled += int((yb != NOT_A_CLASS).sum())
            if self.progress is not None and (b % report_every == 0 or b == n_batches - 1):
                self.progress(b + 1, n_batches)
        accuracy = correct / max(labelled, 1)  # inputs that are no class have no right answer
        if self._spiked and accuracy < 1.5 / model.layer_sizes[-1]:
            self._diverged(f"the loss spiked above {self.loss_ceiling:.3g} and accuracy fell to chance "
                           f"({accuracy:.1%}) (learning rate {lr:g})")
        return total_loss / n, accuracy

    def _watch_divergence(self, loss: float, batch: int, lr: float) -> None:
        """Raise DivergedError on a non-finite loss or one that stays far above where it started.

        Overshooting steps rarely produce NaN: the loss jumps far above chance (ln k) and either
        stays there or the network collapses to chance accuracy (checked at the end of the epoch).
        A smoothed loss ignores single noisy batches.
        """
        if not math.isfinite(loss):
            self._diverged(f"the loss became {loss} at batch {batch + 1} (learning rate {lr:g})")
        if self.loss_ceiling is None:
            self.loss_ceiling = DIVERGENCE_FACTOR * max(loss, math.log(self.model.layer_sizes[-1]))
            self._smoothed = loss
        assert self._smoothed is not None  # set with the ceiling, on the first batch
        self._smoothed = 0.8 * self._smoothed + 0.2 * loss
        self._spiked = self._spiked or loss > self.loss_ceiling
        if self._smoothed > self.loss_ceiling:
            self._diverged(f"the loss rose to {self._smoothed:.3g} by batch {batch + 1}, far above where it "
                           f"started (learning rate {lr:g})")

    def _gather(self, idx: Ints) -> Floats:
        """Rows idx of the training data as model inputs (n, n_in).

        Speed: one np.take into an array reused by every batch, then one scaling
        pass into another, instead of allocating both for each batch.
        """
        if self._batch_arrays is None:
            bs, n_in = self.config.batch_size, self.x.shape[1]
            self._batch_arrays = (np.empty((bs, n_in), self.x.dtype), np.empty((bs, n_in), self.model.dtype))
        all_raw, all_inputs = self._batch_arrays
        raw, inputs = all_raw[: len(idx)], all_inputs[: len(idx)]
        # mode="clip": with the default "raise", np.take copies `out` first (idx is valid anyway).
        np.take(self.x, idx, axis=0, out=raw, mode="clip")
        augment = self.config.augment
        if augment is not None and augment.is_active and raw.shape[1] == 28 * 28:
            return self.model.cast(augment_batch(raw, self.augment_rng, augment))
        return to_inputs(raw, self.model.dtype, out=inputs)

    def _diverged(self, why: str) -> NoReturn:
        self.model.set_weights(self._good)
        self.outcome = TrainOutcome.DIVERGED
        raise DivergedError(
            f"training diverged: {why}. The model keeps the weights of the last good epoch; "
            "try a smaller learning rate."
        )


def build_model(config: TrainConfig, n_in: int = 784, n_out: int = 10) -> MLP:
    """A fresh MLP shaped by the config (hidden sizes, activation, dropout, seed, dtype)."""
    config.validate()
    return MLP([n_in, *config.hidden, n_out], config.activation, dropout=config.dropout, seed=config.seed,
               dtype=config.dtype)
