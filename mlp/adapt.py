"""Teach a model someone's handwriting: fine-tune a copy on their drawings, replaying MNIST.

    result = adapt(model, drawings, labels, replay=(ds.x_train, ds.y_train), test=(ds.x_test, ds.y_test))
    result.model            # the taught copy ("Pretrained + yours"); `model` is untouched
    result.holdout_before   # accuracy on held-out drawings before teaching ...
    result.holdout_after    # ... and after (by a model that never saw them)

Every batch mixes the user's drawings, oversampled to `user_share` of it, with MNIST training
images replayed so the network does not forget the digits it knew; the whole batch is freshly
distorted (mlp.augment), so a few drawings stand for many. Adam with a small learning rate on a
cosine schedule, for a fixed number of steps (a deadline would make the result depend on the
machine's load).

Held-out figures at little cost: for each digit with two or more drawings, about a quarter of
them (at least one) are held out of a short first teaching (`probe_steps`). That model has never
seen them, so its reading of them is an honest estimate of how a taught model reads new
drawings; teaching then goes on from it for `steps` more, on all the drawings, with the
learning rate starting over. The estimate is conservative: that model was taught fewer
drawings, for a fifth as long. (Holding them out for the first half of one run instead taught
them for only half of it, and cost the writers the model read worst 2.4 points on average:
benchmarks/adapt.py, docs/real-handwriting.md.)

Not forgetting, checked: given digits the model never trained on and teaching does not replay
(`check`, its own validation rows: `replay_and_check`), teaching keeps the largest share of what
it changed (`blend`, then the next of BACK_OFF, the last if none passes) whose reading of them
falls by at most `forget_tolerance`, so a writer whose digits look like other digits to everyone
else cannot cost the model much of what it knew in one teaching. (Each teaching is checked
against the model it starts from: teaching a taught model again can cost as much again.)

A memory (`memory`, mlp.memory): the taught model's last-hidden features of the drawings (and of
distorted copies) are kept beside the network, and a reading close to one of them leans on its
digit; the gate is calibrated on the check digits (or, without them, on replayed ones), so MNIST
digits keep the network's reading. With `fine_tune` off the weights do not move at all; the
held-out figure then reads the held-out drawings with a memory of the others.

What it learns from is checked by mlp.adapt_input, whose names are importable from here too
(`read_labels` and `read_drawings` read canvas files for the command line). Nothing here prints or
touches files; the command line (`python -m mlp adapt`) and the app's worker do that.
"""

import math
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .adapt_config import AdaptConfig, AdaptOutcome, AdaptResult
from .adapt_input import (
    MAX_DRAWINGS,
    N_CLASSES,
    SIDE,
    AdaptError,
    check_drawings,
    check_model,
    check_replay,
    read_drawings,
    read_labels,
)
from .arrays import Floats, Ints, Pixels
from .augment import augment_batch
from .config import DivergedError, StopFlag
from .memory import Memory, build_memory
from .meta import STALE_KEYS, stamp_test_scores
from .metrics import Evaluation
from .network import MLP
from .optimizers import Adam, cosine_lr
from .training import to_inputs

__all__ = [
    "MAX_DRAWINGS",
    "SIDE",
    "AdaptConfig",
    "AdaptError",
    "AdaptOutcome",
    "AdaptResult",
    "adapt",
    "check_drawings",
    "holdout_split",
    "read_drawings",
    "read_labels",
    "replay_and_check",
]

#: The shares of what teaching changed tried in turn (times config.blend) while the taught model
#: reads the check digits worse than the original by more than config.forget_tolerance; the last
#: is kept if none passes.
BACK_OFF = (1.0, 0.85, 0.7, 0.55, 0.4)
#: At most this many check digits (each share tried reads them all once).
MAX_CHECK = 6000
#: Images and their labels: (x, y).
Pair = tuple[ArrayLike, ArrayLike]


# --------------------------------------------------------------------------- #
# Teaching
# --------------------------------------------------------------------------- #
def holdout_split(labels: Ints, fraction: float, rng: np.random.Generator) -> tuple[Ints, NDArray[np.intp]]:
    """(train_idx, held_idx): per digit with 2+ drawings, max(1, round(fraction * count)) held out.

    A digit drawn once is never held out (the model must see every digit it is taught).
    """
    rows: list[int] = []
    if fraction > 0:
        for digit in np.unique(labels):
            idx = np.flatnonzero(labels == digit)
            if len(idx) >= 2:
                k = min(len(idx) - 1, max(1, round(fraction * len(idx))))
                rows.extend(rng.choice(idx, k, replace=False).tolist())
    held = np.array(sorted(rows), dtype=np.intp)
    train = np.setdiff1d(np.arange(len(labels)), held)
    return train, held


#: BLAS threads while teaching. Batches of 128 through 1024-wide layers are too small for a second
#: thread to pay, and on a busy machine two OpenBLAS threads wait for each other: teaching 20
#: drawings took a median 12 s with one thread and 72 s with two at load average 8
#: (benchmarks/adapt.py). One count everywhere also gives the same weights in every caller.
BLAS_THREADS = 1


def adapt(model: MLP, images: ArrayLike, labels: ArrayLike, *, replay: Pair, test: Pair | None = None,
          check: Pair | None = None, config: AdaptConfig | None = None, seed: int = 0,
          progress: Callable[[int, int], object] | None = None, stop: StopFlag | None = None) -> AdaptResult:
    """Fine-tune a copy of `model` on labelled drawings; returns an AdaptResult (see the module docstring).

    images (n, 28, 28) preprocessed drawings (uint8, or floats in [0, 1]); labels (n,) 0-9;
    replay (x_train uint8 (m, 28, 28), y_train): MNIST training images mixed into every batch;
    test (x_test, y_test): scored before and after, if given; check (x uint8, y): digits the model
    was not trained on and `replay` does not hold, to keep it from forgetting (the module
    docstring; `replay_and_check` splits a training set so). config: AdaptConfig (defaults if
    None). Same inputs and seed give the same weights. progress(done, total) is called after
    every step; stop (an mlp.StopFlag) is checked between steps, and a stopped run returns
    outcome AdaptOutcome.STOPPED and no model. Raises AdaptError for unusable input, DivergedError if the
    weights become non-finite. Runs with BLAS_THREADS BLAS threads (restored afterwards).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(BLAS_THREADS, user_api="blas"):
        return _adapt(model, images, labels, replay, test, check, config, seed, progress, stop)


def replay_and_check(model: MLP, x_train: Pixels,
                     y_train: Ints) -> tuple[tuple[Pixels, Ints], tuple[Pixels, Ints] | None]:
    """((x, y) to replay, (x, y) to check or None): the rows of a training set `model` trained on, and
    (up to MAX_CHECK of) those it held out for validation, from its metadata's training settings.

    None when the metadata names no validation rows, makes no sense, or would leave less than half
    of the set to replay. The settings describe the model's last training run only: a run continued
    with another seed or validation share may have trained on some of these rows.
    """
    from .config import TrainConfig
    from .training import rows_used

    training = model.meta.get("training")
    if not isinstance(training, dict) or "val_fraction" not in training:
        return (x_train, y_train), None
    try:  # a model file's settings are not to be trusted: anything odd means no check rows
        train_idx, val_idx = rows_used(TrainConfig.from_dict(training).validate(), len(x_train))
    except (AttributeError, TypeError, ValueError):
        return (x_train, y_train), None
    if not len(val_idx) or len(train_idx) < len(x_train) // 2:  # most of the set must still be replayed
        return (x_train, y_train), None
    val_idx = val_idx[:MAX_CHECK]  # sorted rows: a fixed subset
    return (x_train[train_idx], y_train[train_idx]), (x_train[val_idx], y_train[val_idx])


def _adapt(model: MLP, images: ArrayLike, labels: ArrayLike, replay: Pair, test: Pair | None, check: Pair | None,
           config: AdaptConfig | None, seed: int, progress: Callable[[int, int], object] | None,
           stop: StopFlag | None) -> AdaptResult:
    started = time.perf_counter()
    config = (config or AdaptConfig()).validate()
    check_model(model)
    pixels, targets, skipped = check_drawings(images, labels)
    x_replay, y_replay = check_replay(replay)
    checked = None if check is None else check_replay(check, "check")
    # (spawn's first children do not depend on how many are spawned: a fourth leaves the others' weights as they were)
    split_rng, pick_rng, augment_rng, memory_rng = np.random.default_rng(seed).spawn(4)
    train_idx, held_idx = holdout_split(targets, config.holdout_fraction, split_rng)

    student = model.with_seed(seed)  # a copy: the caller's model is never changed; dropout follows seed
    # The model taught before, as its network reads: a memory from an earlier teaching may hold the very drawings
    # held out now, and would read them as seen, where the probe (its memory leaves them out) reads them unseen.
    base = model.with_seed(seed)
    base.memory = None
    held_x = to_inputs(pixels[held_idx], model.dtype) if len(held_idx) else np.empty((0, SIDE * SIDE), model.dtype)
    holdout_before = _accuracy(base, held_x, targets[held_idx])
    mnist_before = None if test is None else _accuracy(model, to_inputs(test[0], model.dtype), test[1])
    remembers = config.memory and len(model.layer_sizes) > 2  # a memory keeps a hidden layer's features
    if not (config.fine_tune or remembers):
        raise AdaptError("a network without hidden layers cannot keep a memory of drawings: fine-tune it instead")

    optimizer = Adam(student.flat_parameters())
    n_user = max(1, round(config.user_share * config.batch_size))
    n_replay = config.batch_size - n_user
    phases: list[tuple[int, Ints]] = [(config.steps, np.arange(len(targets)))] if config.fine_tune else []
    if len(held_idx) and config.fine_tune:
        phases.insert(0, (config.probe_steps, train_idx))
    total = sum(n for n, _ in phases)
    probe = None
    step = 0
    for phase, (n_steps, pool) in enumerate(phases):
        if phase == 1:  # the probe model has never seen the held-out drawings
            probe = student.with_seed(seed)
        for k in range(n_steps):
            if stop is not None and stop.is_set():
                return _stopped(model, started, step, pixels, targets, skipped, seed, holdout_before, mnist_before,
                                len(held_idx))
            users = pool[pick_rng.integers(0, len(pool), n_user)]
            replayed = pick_rng.integers(0, len(x_replay), n_replay)
            raw = np.concatenate([pixels[users], x_replay[replayed]])  # (batch, 28, 28) uint8
            y = np.concatenate([targets[users], y_replay[replayed]])
            x = augment_batch(raw, augment_rng, config.augment)  # (batch, 784) float32
            with np.errstate(over="ignore", invalid="ignore"):
                loss, _ = student.loss_and_grads(x, y)
            if not math.isfinite(loss):
                raise DivergedError(f"teaching diverged: the loss became {loss} at step {step + 1}; try a smaller lr")
            optimizer.step(cosine_lr(config.lr, k, n_steps))
            step += 1
            if progress is not None:
                progress(step, total)
    if not student.weights_finite():
        raise DivergedError("teaching diverged: the weights became non-finite; try a smaller lr")
    blend, check_before, check_after = 1.0, None, None
    if config.fine_tune:
        blend, check_before, check_after = _keep_what_it_knew(base, student, checked, config)
    # Read by the probe kept as the taught model is kept (the same share of what it changed).
    if probe is not None:
        probe = _blended(model, probe, blend)
    elif len(held_idx) and remembers:  # no fine-tuning: the probe is the model itself
        probe = model.with_seed(seed)
    memory = None
    if remembers:
        calibration = checked if checked is not None else _some_replayed(x_replay, y_replay)
        def remember(reader: MLP, rows: Ints, rng: np.random.Generator) -> tuple[Memory, float]:
            return build_memory(reader, pixels[rows], targets[rows], check=calibration, rng=rng,
                                copies=config.memory_copies, tolerance=config.memory_tolerance, augment=config.augment)

        if probe is not None:  # a memory of the drawings the probe saw, reading those it did not
            probe.memory, _ = remember(probe, train_idx, memory_rng.spawn(1)[0])
        student.memory, check_with_memory = remember(student, np.arange(len(targets)), memory_rng)
        memory = student.memory.describe()
        if checked is not None:
            check_after = check_with_memory
            if check_before is None:
                check_before = _accuracy(base, to_inputs(checked[0], model.dtype), checked[1])
    holdout_after = None if probe is None else _accuracy(probe, held_x, targets[held_idx])

    mnist_after = None
    if test is not None:
        evaluation = student.evaluate(to_inputs(test[0], student.dtype), test[1])
        mnist_after = evaluation.accuracy
    result = AdaptResult(
        model=student, outcome=AdaptOutcome.COMPLETED, seconds=time.perf_counter() - started, steps=total,
        n_drawings=len(targets), per_digit=_per_digit(targets), n_holdout=len(held_idx),
        holdout_before=holdout_before, holdout_after=holdout_after, mnist_before=mnist_before,
        mnist_after=mnist_after, skipped=skipped, seed=seed, blend=blend,
        n_check=0 if checked is None else len(checked[1]), check_before=check_before, check_after=check_after,
        memory=memory,
    )
    _stamp(student, model, result, config, evaluation if test is not None else None)
    return result


def _keep_what_it_knew(base: MLP, student: MLP, check: tuple[Pixels, NDArray[np.int64]] | None,
                       config: AdaptConfig) -> tuple[float, float | None, float | None]:
    """Blend student toward base (in place) as the module docstring says; (blend, check before, after).

    Compared as counts of check digits read right, so a fall of exactly the tolerance passes.
    """
    if check is None:
        _blended(base, student, config.blend)
        return config.blend, None, None
    x, y = to_inputs(check[0], base.dtype), check[1]
    right_before = int((base.predict(x) == y).sum())
    allowed = math.floor(config.forget_tolerance * len(y) + 1e-9)
    taught = student.get_weights()
    for share in BACK_OFF:
        blend = config.blend * share
        student.set_weights(taught)
        right_after = int((_blended(base, student, blend).predict(x) == y).sum())
        if right_after >= right_before - allowed:
            break
    return blend, right_before / len(y), right_after / len(y)


def _some_replayed(x: Pixels, y: Ints) -> tuple[Pixels, Ints]:
    """Up to MAX_CHECK replayed digits, evenly spaced: what a memory is calibrated on without check digits.

    The network trained on them, so they sit farther from other digits than new ones would: the gate
    is then looser than with check digits.
    """
    rows = np.linspace(0, len(y) - 1, min(MAX_CHECK, len(y))).astype(np.intp)
    return x[rows], y[rows]


def _blended(base: MLP, taught: MLP, blend: float) -> MLP:
    """taught's weights moved to base + blend * (taught - base), in place; returns taught."""
    if blend < 1:
        for (b, _, _), (t, _, _) in zip(base.flat_parameters(), taught.flat_parameters()):
            t -= b
            t *= taught.dtype.type(blend)
            t += b
    return taught


def _accuracy(model: MLP, x: Floats, y: ArrayLike) -> float | None:
    """Share of rows of x read as y, or None for no rows."""
    if len(x) == 0:
        return None
    return float((model.predict(x) == np.asarray(y)).mean())


def _per_digit(targets: Ints) -> list[int]:
    counts: list[int] = np.bincount(targets, minlength=N_CLASSES).tolist()
    return counts


def _stopped(model: MLP, started: float, step: int, pixels: Pixels, targets: Ints, skipped: list[int], seed: int,
             holdout_before: float | None, mnist_before: float | None, n_holdout: int) -> AdaptResult:
    return AdaptResult(
        model=None, outcome=AdaptOutcome.STOPPED, seconds=time.perf_counter() - started, steps=step,
        n_drawings=len(targets), per_digit=_per_digit(targets), n_holdout=n_holdout,
        holdout_before=holdout_before, holdout_after=None, mnist_before=mnist_before, mnist_after=None,
        skipped=skipped, seed=seed,
    )


def _stamp(student: MLP, base: MLP, result: AdaptResult, config: AdaptConfig,
           evaluation: Evaluation | None) -> None:
    """Name the taught model after its base, drop the base's scores, record what teaching did."""
    for key in STALE_KEYS:
        student.meta.pop(key, None)
    base_name = base.meta.get("name") or "Pretrained"
    student.meta["name"] = base_name if base_name.endswith(" + yours") else f"{base_name} + yours"
    student.meta["adapted"] = {**result.figures(), "config": config.to_dict()}
    if evaluation is not None:
        stamp_test_scores(student, evaluation)
