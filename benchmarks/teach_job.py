"""Teach the model as the Draw page does: from the click to the taught model, through the task engine.

    MLP_DATA_DIR=../shared python -m benchmarks.teach_job [--model models/default.npz] [--drawings 20]
        [--repeats 3] [--max-runs 2] [--seed 0] [--writer SEED] [--json]

Each run starts a teach job (webapp.training.start.start_teaching, the Draw page's call) on `--drawings`
MNIST test digits (the same number of each digit, chosen by --seed) with mlp.adapt's default
config, in a worker process with the BLAS threads the server gives it (`--max-runs`, like
DIGIT_LAB_MAX_RUNS: 2 -> one thread each on this 2-core machine), or on a simulated writer's
drawings (`--writer`, drawn.styles.make_writer: how much of teaching is kept, and so how many
checks it reads, depends on the drawings), and prints the median of
`--repeats` runs of: the whole job (click to model), the time inside mlp.adapt (its steps and the
MNIST test scored before and after, as recorded in the taught model), and the rest (starting the
worker, loading MNIST, sending the model both ways). The machine may be shared: the load average
before the runs is printed.
"""

import argparse
import json
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from data import load_dataset
from mlp import load_model
from webapp.training import engine as engines
from webapp.training.sources import replay_source
from webapp.training.start import start_teaching


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/default.npz", help="model file (.npz)")
    p.add_argument("--drawings", type=int, default=20, help="drawings taught, a multiple of 10 (default 20)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs (default 3)")
    p.add_argument("--max-runs", type=int, default=2, help="the embedded engine's workers (default 2)")
    p.add_argument("--seed", type=int, default=0, help="which test digits are the drawings")
    p.add_argument("--writer", type=int, help="teach this simulated writer's drawings instead of test digits")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.drawings < 10 or args.drawings % 10:
        p.error(f"--drawings must be a positive multiple of 10, got {args.drawings}")
    if args.repeats < 1 or args.max_runs < 1:
        p.error("--repeats and --max-runs must be at least 1")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    ds = load_dataset("mnist")
    model = load_model(args.model)
    per_digit = args.drawings // 10
    if args.writer is None:
        rng = np.random.default_rng(args.seed)
        idx = np.concatenate([rng.choice(np.flatnonzero(ds.y_test == d), per_digit, replace=False)
                              for d in range(10)])
        images, labels = ds.x_test[idx], ds.y_test[idx]
    else:
        from drawn.styles import make_writer, writer_images

        images, labels = writer_images(make_writer(args.writer), per_digit, 0, ds.x_test, ds.y_test)
    labels = labels.astype(np.int64)
    load = os.getloadavg()[0]
    runs = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        job = start_teaching("bench + yours", model, images, labels, replay_source(ds),
                             engines.shared(workers=args.max_runs))
        job.join()
        total = time.perf_counter() - started
        if job.state != "completed":
            raise SystemExit(f"teaching ended {job.state}: {job.error}")
        adapted = job.snapshot.meta["adapted"]
        runs.append({"total": total, "adapt": adapted["seconds"], "rest": total - adapted["seconds"],
                     "holdout": adapted["holdout"], "mnist": adapted["mnist_test_accuracy"],
                     "blend": adapted["blend"], "check": adapted["check"]})
    return {
        "model": args.model, "drawings": args.drawings, "max_runs": args.max_runs, "repeats": args.repeats,
        "load_average_before": round(load, 2),
        "median_seconds": {k: round(statistics.median(r[k] for r in runs), 2) for k in ("total", "adapt", "rest")},
        "runs": runs,
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return
    m = result["median_seconds"]
    print(f"teach job, {args.drawings} drawings, {args.model}, {args.max_runs} engine workers "
          f"(load average before: {result['load_average_before']})")
    print(f"  median of {args.repeats}: {m['total']:.2f} s click to model = {m['adapt']:.2f} s in mlp.adapt "
          f"+ {m['rest']:.2f} s engine start (the first), MNIST load, model transfer")
    last = result["runs"][-1]
    print(f"  last run: held-out drawings {last['holdout']}, MNIST test {last['mnist']}, kept {last['blend']:.0%} "
          f"of what teaching changed (validation digits {last['check']})")


if __name__ == "__main__":
    main()
