"""How many training runs an engine finishes per hour, with one worker and with two (or at an address).

    MLP_DATA_DIR=../shared python -m benchmarks.runs_per_hour [--runs 8] [--epochs 5] [--samples 10000]
        [--workers 1 2] [--engine tcp://127.0.0.1:8786] [--json]

Starts ``--runs`` runs at once as the Train page does (webapp.training.start.start_job: a 784-128-10
network, Adam, batch 128, on ``--samples`` MNIST training images, each with its own seed), on an engine
embedded here with each ``--workers`` count in turn (or, with ``--engine``, the scheduler at that address
and however many workers it has), and times them from the first Start to the last run's end. Reports
runs per hour, epochs per minute, and each run's time to its first epoch (p50, max): with fair turns
every run has one early, whichever came last. The load average before each engine is printed: on a
shared machine, compare figures from one invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

from data import load_dataset
from mlp import TrainConfig
from webapp.training import engine as engines
from webapp.training.start import start_job

HIDDEN = (128,)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=8, help="runs started together (default 8)")
    p.add_argument("--epochs", type=int, default=5, help="epochs per run (default 5)")
    p.add_argument("--samples", type=int, default=10000, help="training images per run (default 10000)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="embedded engines' worker counts")
    p.add_argument("--engine", help="a scheduler's address instead of embedded engines")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if min(args.runs, args.epochs, args.samples, *args.workers) < 1:
        p.error("--runs, --epochs, --samples and --workers must be at least 1")
    return args


def measure(engine: engines.Engine, runs: int, epochs: int, samples: int) -> dict[str, Any]:
    """Start `runs` runs on `engine` at once and wait for all; the figures."""
    ds = load_dataset("mnist")
    engine.client().wait_for_workers(1 if engine.address else engine.workers, timeout=120)  # start-up not timed
    threads = engine.threads()
    load = os.getloadavg()[0]
    started = time.perf_counter()
    jobs = [start_job(f"run {i}", TrainConfig(hidden=HIDDEN, epochs=epochs, train_subset=samples, val_fraction=0.0,
                                             seed=i), ds, engine) for i in range(runs)]
    firsts: dict[int, float] = {}
    while not all(j.done for j in jobs):
        for i, j in enumerate(jobs):
            if i not in firsts and j.records:
                firsts[i] = time.perf_counter() - started
        time.sleep(0.05)
    wall = time.perf_counter() - started
    failed = [f"{j.name}: {j.state} {j.error}" for j in jobs if j.state != "completed"]
    if failed:
        raise SystemExit("runs did not complete: " + "; ".join(failed))
    first = sorted(firsts.values())
    return {"workers": threads, "load_average_before": round(load, 2), "seconds": round(wall, 2),
            "runs_per_hour": round(runs * 3600 / wall), "epochs_per_minute": round(runs * epochs * 60 / wall, 1),
            "first_epoch_p50_s": round(statistics.median(first), 2) if first else None,
            "first_epoch_max_s": round(first[-1], 2) if first else None}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure each engine in turn."""
    if args.engine:
        engine_list = [engines.Engine(args.engine)]
    else:
        engine_list = [engines.Engine(workers=n) for n in args.workers]
    results = []
    for engine in engine_list:
        try:
            results.append(measure(engine, args.runs, args.epochs, args.samples))
        finally:
            engine.close()
    return {"runs": args.runs, "epochs": args.epochs, "samples": args.samples,
            "network": "-".join(map(str, (784, *HIDDEN, 10))), "engine": args.engine or "embedded",
            "engines": results}


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.runs} runs of {result['network']}, {args.epochs} epochs on {args.samples} images each, started "
          f"together ({result['engine']} engine)")
    for r in result["engines"]:
        print(f"  {r['workers']} worker(s): {r['runs_per_hour']} runs/hour, {r['epochs_per_minute']} epochs/min "
              f"({r['seconds']} s); first epoch p50 {r['first_epoch_p50_s']} s, max {r['first_epoch_max_s']} s "
              f"(load average before {r['load_average_before']})")


if __name__ == "__main__":
    main()
