"""What moving a run between slices costs: a state's size and save + restore time, against an epoch.

    MLP_DATA_DIR=../shared python -m benchmarks.slices [--samples 20000] [--repeats 7] [--epochs 3] [--json]

For each network (784-128-10 and 784-1024-1024-10, the shipped model's shape), Adam, batch 128,
float32, on the first ``--samples`` MNIST training images (no validation split):

* the bytes of its state (mlp.resume.state_to_bytes) after one epoch: Adam (two moments), the
  same with early stopping's best weights stored too (the largest a state gets), and plain SGD;
* save: Trainer.state() + state_to_bytes; restore: state_from_bytes + a Trainer built from it
  (what mlp.resume.advance does before it trains); median of ``--repeats``;
* one training epoch (Trainer.run(epochs=1)); median of ``--epochs`` after one warm-up epoch.

Medians, because the machine may be shared; the load average before the run is printed. Each
figure is given as wall time and as the process's CPU time: on a busy machine the wall times
stretch with the CPU share the process gets, the CPU times much less. With one BLAS thread
(OPENBLAS_NUM_THREADS=1) the CPU time is close to what the wall time would be on a quiet core;
with two, an epoch's CPU time also counts the BLAS threads waiting for each other.
"""

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from data import load_dataset
from mlp import TrainConfig, Trainer, build_model, state_from_bytes, state_to_bytes
from mlp.arrays import Inputs, Labels

NETWORKS = ((128,), (1024, 1024))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=20000)
    p.add_argument("--repeats", type=int, default=7, help="save + restore timings per network")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs per network, after a warm-up one")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p.parse_args(argv)


def median_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of ``repeats`` calls of fn()."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def config_for(hidden: tuple[int, ...], samples: int, optimizer: str = "adam", patience: int = 0) -> TrainConfig:
    return TrainConfig(hidden=hidden, optimizer=optimizer, batch_size=128, epochs=100, val_fraction=0.0,
                       train_subset=samples, patience=patience, seed=0)


def measure(hidden: tuple[int, ...], x: Inputs, y: Labels, args: argparse.Namespace) -> dict[str, Any]:
    """Sizes and medians for one network; a dict of plain numbers."""
    config = config_for(hidden, args.samples)
    trainer = Trainer(build_model(config), config, x, y)
    list(trainer.run(epochs=1))  # warm-up; the moments are a trained run's
    epoch = median_seconds(lambda: list(trainer.run(epochs=1)), args.epochs)
    blob = state_to_bytes(trainer.state())

    def restore():
        state = state_from_bytes(blob)
        Trainer(state.model(), state.config, x, y, state=state)

    save = median_seconds(lambda: state_to_bytes(trainer.state()), args.repeats)
    load = median_seconds(restore, args.repeats)

    # The largest state: early stopping on, and its best weights no longer the current ones.
    state = trainer.state()
    state.config = config_for(hidden, args.samples, patience=3)
    state.best, state.best_loss, state.waited = [w + 1 for w in state.weights], 0.5, 1
    with_best = len(state_to_bytes(state))

    plain = config_for(hidden, args.samples, optimizer="sgd")
    sgd = Trainer(build_model(plain), plain, x, y)
    list(sgd.run(epochs=1))
    model = trainer.model
    return {
        "network": "-".join(map(str, model.layer_sizes)),
        "parameters": model.n_parameters,
        "adam_bytes": len(blob),
        "adam_best_bytes": with_best,
        "sgd_bytes": len(state_to_bytes(sgd.state())),
        "save_seconds": save[0],
        "restore_seconds": load[0],
        "epoch_seconds": epoch[0],
        "move_share": (save[0] + load[0]) / epoch[0],
        "save_cpu_seconds": save[1],
        "restore_cpu_seconds": load[1],
        "epoch_cpu_seconds": epoch[1],
        "move_share_cpu": (save[1] + load[1]) / epoch[1],
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    load_before = os.getloadavg()
    ds = load_dataset("mnist")
    x, y = ds.x_train, ds.y_train
    rows = [measure(hidden, x, y, args) for hidden in NETWORKS]
    result = {"samples": args.samples, "load_average_before": load_before,
              "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"), "networks": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"load average before: {', '.join(f'{v:.2f}' for v in load_before)}; OPENBLAS_NUM_THREADS "
          f"{result['blas_threads']}; {args.samples:,} images, Adam, batch 128, float32; medians")
    print(f"{'network':>18} {'params':>10} {'Adam state':>11} {'+ best':>9} {'SGD':>9}")
    for r in rows:
        print(f"{r['network']:>18} {r['parameters']:>10,} {r['adam_bytes'] / 2**20:>8.2f} MB "
              f"{r['adam_best_bytes'] / 2**20:>6.2f} MB {r['sgd_bytes'] / 2**20:>6.2f} MB")
    print(f"{'network':>18} {'':>6} {'save':>8} {'restore':>8} {'epoch':>8} {'move/epoch':>10}")
    for r in rows:
        for kind, suffix in (("wall", ""), ("CPU", "_cpu")):
            seconds = [r[f"{step}{suffix}_seconds"] for step in ("save", "restore", "epoch")]
            print(f"{r['network']:>18} {kind:>6} {seconds[0] * 1e3:>6.1f}ms {seconds[1] * 1e3:>6.1f}ms "
                  f"{seconds[2]:>7.2f}s {r['move_share' + suffix]:>9.2%}")


if __name__ == "__main__":
    main()
