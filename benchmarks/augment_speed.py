"""What augmentation costs per epoch, next to a plain training epoch.

    MLP_DATA_DIR=../shared python -m benchmarks.augment_speed [--samples 54000]
        [--batch-size 128] [--hidden 256 128] [--repeats 3] [--json]

Times, for one epoch of ``--samples`` MNIST training images in batches:

* converting uint8 batches to float inputs (what a plain epoch does),
* augment_batch with the default AugmentConfig, and with each part alone,
* a plain training epoch (forward, backward, Adam step) of the given MLP,
* the same epoch with augment_batch in front of every step.

Each figure is the fastest of ``--repeats`` runs: the machine is shared, and
the minimum is the least disturbed estimate. Needs real MNIST.
"""

import argparse
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from data import load_dataset
from mlp import TrainConfig, build_model, to_inputs
from mlp.arrays import Pixels
from mlp.augment import AugmentConfig, augment_batch
from mlp.optimizers import make_optimizer

from .speed import repeat_times


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=54000)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p.parse_args(argv)


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """Fastest wall time of ``repeats`` calls of fn()."""
    return min(repeat_times(fn, repeats))


def batches(x: Pixels, batch_size: int) -> list[Pixels]:
    return [x[s:s + batch_size] for s in range(0, len(x), batch_size)]


def augmentation_only(x: Pixels, batch_size: int, config: AugmentConfig, seed: int) -> None:
    """One epoch of augment_batch calls (no training)."""
    rng = np.random.default_rng(seed)
    for xb in batches(x, batch_size):
        augment_batch(xb, rng, config)


def conversion_only(x: Pixels, batch_size: int) -> None:
    """One epoch of the uint8 -> float conversion a plain epoch does."""
    for xb in batches(x, batch_size):
        to_inputs(xb)


def training_epoch(x: Pixels, y: NDArray[np.int64], hidden: Sequence[int], batch_size: int, seed: int,
                   config: AugmentConfig | None = None) -> Callable[[], None]:
    """One Adam epoch of a fresh MLP; with ``config``, every batch is augmented first."""
    model = build_model(TrainConfig(hidden=tuple(hidden), seed=seed))
    optimizer = make_optimizer("adam", model.parameters())
    rng = np.random.default_rng(seed)

    def run() -> None:
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            inputs = to_inputs(xb) if config is None else augment_batch(xb, rng, config)
            model.loss_and_grads(inputs, yb)
            optimizer.step(1e-3)

    return run


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    ds = load_dataset("mnist")
    x = ds.x_train[: args.samples]
    y = ds.y_train[: args.samples].astype(np.int64)
    full = AugmentConfig()
    off = AugmentConfig.none()
    parts = {
        "affine only": replace(off, max_shift=full.max_shift, max_rotation=full.max_rotation,
                               min_scale=full.min_scale, max_scale=full.max_scale, max_shear=full.max_shear),
        "elastic only": replace(off, elastic_alpha=full.elastic_alpha, elastic_sigma=full.elastic_sigma),
        "thickness only": replace(off, thickness_prob=full.thickness_prob),
    }
    bs, r = args.batch_size, args.repeats
    result = {
        "samples": len(x),
        "batch_size": bs,
        "hidden": args.hidden,
        "config": full.to_dict(),
        "conversion_seconds": best_of(r, lambda: conversion_only(x, bs)),
        "augment_seconds": best_of(r, lambda: augmentation_only(x, bs, full, args.seed)),
        "augment_part_seconds": {
            name: best_of(r, lambda c=c: augmentation_only(x, bs, c, args.seed)) for name, c in parts.items()
        },
        "plain_epoch_seconds": best_of(r, training_epoch(x, y, args.hidden, bs, args.seed)),
        "augmented_epoch_seconds": best_of(r, training_epoch(x, y, args.hidden, bs, args.seed, full)),
    }
    result["ratio"] = result["augmented_epoch_seconds"] / result["plain_epoch_seconds"]
    if args.json:
        print(json.dumps(result, indent=2))
        return
    n_batches = math.ceil(len(x) / bs)
    print(f"{len(x):,} samples, {n_batches} batches of {bs}, MLP 784-{'-'.join(map(str, args.hidden))}-10, "
          f"best of {r}")
    print(f"  uint8 -> float only          {result['conversion_seconds']:6.3f} s per epoch")
    print(f"  augment_batch (default)      {result['augment_seconds']:6.3f} s per epoch "
          f"({1e6 * result['augment_seconds'] / len(x):.1f} us per sample)")
    for name, secs in result["augment_part_seconds"].items():
        print(f"    {name:<26} {secs:6.3f} s")
    print(f"  plain training epoch         {result['plain_epoch_seconds']:6.3f} s")
    print(f"  augmented training epoch     {result['augmented_epoch_seconds']:6.3f} s "
          f"({result['ratio']:.2f}x plain)")


if __name__ == "__main__":
    main()
