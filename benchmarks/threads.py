"""Can Python threads spread the NumPy training step over both cores? Measured three ways.

    MLP_DATA_DIR=../shared python -m benchmarks.threads [--json]

NumPy runs each elementwise operation on one core; only the matrix products use
OpenBLAS's threads. NumPy does release the GIL inside an operation, so two Python
threads can run operations at the same time. This script measures how much that
buys for the work of one training step of the reference network (784-256-128-10,
batch 128, float32), so that the speed figures in docs/performance.md rest on measurements:

1. elementwise passes (multiply, add, sqrt, as in an optimizer update) on arrays
   of a given size: one thread, then two threads each doing the same amount;
   the aggregate speedup is 2 x (one thread's time) / (two threads' time);
2. Adam's update of the reference network's 235,146 weights and biases: the
   project's `Adam` on the whole flat vector in one thread, then two `Adam`s on
   its halves, one per thread (a persistent helper thread, one handoff per step);
3. data parallelism: forward + backward of two half batches (64 rows) in two
   threads at once with one BLAS thread each, against the full batch of 128 in
   one thread with two BLAS threads (the Trainer's way). Run in child processes,
   since OpenBLAS fixes its thread count when it starts;
4. the same with two processes instead of threads (no GIL between them): each
   process's forward + backward of a half batch, and its share of the step's
   update (summing the two gradients, then Adam over half the parameters), with
   both processes running at once. Their sum is a floor for a two-process
   data-parallel trainer: it leaves out gathering batches and every exchange
   between the processes.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mlp import TrainConfig, build_model
from mlp.optimizers import Adam

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SIZES = (784, 256, 128, 10)
BATCH = 128


def in_threads(fn: Callable[[int], object], n: int) -> float:
    """Seconds to run fn(i) in n threads at once (n=1: in this thread)."""
    started = time.perf_counter()
    if n == 1:
        fn(0)
    else:
        threads = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return time.perf_counter() - started


def elementwise_scaling(sizes: Sequence[int] = (2**14, 2**16, 2**18), elements: int = 2 * 10**9,
                        rounds: int = 3) -> list[dict[str, float]]:
    """Aggregate speedup of two threads over one for three passes per round on private arrays."""
    out = []
    for size in sizes:
        reps = max(1, elements // size // 3)

        def work(_: int, size: int = size, reps: int = reps) -> None:
            a, b = np.ones(size, np.float32), np.ones(size, np.float32)
            for _ in range(reps):
                np.multiply(a, 0.999, out=a)
                np.add(a, b, out=a)
                np.sqrt(b, out=b)

        one = statistics.median(in_threads(work, 1) for _ in range(rounds))
        two = statistics.median(in_threads(work, 2) for _ in range(rounds))
        out.append({"elements_per_call": size, "one_thread_seconds": one, "two_threads_seconds": two,
                    "speedup": 2 * one / two})
    return out


class Helper:
    """A thread that runs one job per `run_with` call, handing off through two semaphores."""

    def __init__(self) -> None:
        self.go, self.done = threading.Semaphore(0), threading.Semaphore(0)
        self.job: Callable[[], object] = lambda: None
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            self.go.acquire()
            self.job()
            self.done.release()

    def run_with(self, job: Callable[[], object], own_job: Callable[[], object]) -> None:
        self.job = job
        self.go.release()
        own_job()
        self.done.acquire()


def adam_update(steps: int = 2000, rounds: int = 5) -> dict[str, float]:
    """Microseconds per Adam step over the reference network's parameters: one thread vs two."""
    model = build_model(TrainConfig(hidden=SIZES[1:-1]))
    rng = np.random.default_rng(0)
    params = model.flat_parameters()
    for _, g, _ in params:
        g[...] = rng.standard_normal(g.shape) * 1e-2
    whole = Adam(params)
    halves = []
    for p, g, is_weight in params:
        h = p.size // 2
        halves.append([(p[:h], g[:h], is_weight), (p[h:], g[h:], is_weight)])
    first = Adam([pair[0] for pair in halves])
    second = Adam([pair[1] for pair in halves])
    helper = Helper()

    def one() -> None:
        for _ in range(steps):
            whole.step(1e-3)

    def two() -> None:
        for _ in range(steps):
            helper.run_with(lambda: first.step(1e-3), lambda: second.step(1e-3))

    timings: dict[str, list[float]] = {"one_thread": [], "two_threads": []}
    for _ in range(rounds):
        timings["one_thread"].append(in_threads(lambda _: one(), 1) / steps * 1e6)
        timings["two_threads"].append(in_threads(lambda _: two(), 1) / steps * 1e6)
    result = {k: statistics.median(v) for k, v in timings.items()}
    result["speedup"] = result["one_thread"] / result["two_threads"]
    return result


def forward_backward(batch: int, threads: int, steps: int = 400, rounds: int = 5) -> float:
    """Microseconds per step: `threads` models each doing forward + backward on `batch` rows, at once."""
    from data import load_dataset

    ds = load_dataset("mnist")
    x, y = ds.x_train.reshape(-1, 784), ds.y_train
    models = [build_model(TrainConfig(hidden=SIZES[1:-1])) for _ in range(threads)]
    rng = np.random.default_rng(0)
    batches = [(x[i].astype(np.float32) / 255, y[i]) for i in rng.integers(0, len(x), (steps, batch))]

    def work(k: int) -> None:
        for xb, yb in batches:
            models[k].loss_and_grads(xb, yb)

    work(0)  # warm-up: scratch arrays
    return statistics.median(in_threads(work, threads) for _ in range(rounds)) / steps * 1e6


def data_parallel() -> dict[str, float]:
    """forward_backward() in child processes with the BLAS thread counts each way needs."""
    (full,) = _children_at_once(f"forward_backward({BATCH}, 1)", blas=2, copies=1)
    (halves,) = _children_at_once(f"forward_backward({BATCH // 2}, 2)", blas=1, copies=1)
    return {"full_batch_two_blas_threads_us": full, "two_half_batches_in_threads_us": halves,
            "speedup": full / halves}


def half_update(steps: int = 1000, rounds: int = 5) -> float:
    """Microseconds per step: sum two gradient halves, then Adam over half the reference network's parameters."""
    n = sum(a * b + b for a, b in zip(SIZES[:-1], SIZES[1:])) // 2
    rng = np.random.default_rng(0)
    p = rng.standard_normal(n).astype(np.float32)
    g, other = p * np.float32(1e-2), p * np.float32(2e-2)
    adam = Adam([(p, g, True)])

    def work(_: int) -> None:
        for _ in range(steps):
            np.add(g, other, out=g)
            adam.step(1e-3)

    return statistics.median(in_threads(work, 1) for _ in range(rounds)) / steps * 1e6


def _children_at_once(calls: str, blas: int = 1, copies: int = 2) -> list[float]:
    """Run `threads.<call>` in `copies` child processes at the same time; their printed results."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(blas), "OMP_NUM_THREADS": str(blas)}
    code = f"from benchmarks import threads; print(threads.{calls})"
    children = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
                for _ in range(copies)]
    outs = [c.communicate()[0] for c in children]
    if any(c.returncode for c in children):
        raise RuntimeError(f"a child running threads.{calls} failed")
    return [float(o) for o in outs]


def data_parallel_processes() -> dict[str, float]:
    """Two processes at once, one BLAS thread each: half-batch forward + backward, then half the update."""
    forward_backward_us = max(_children_at_once(f"forward_backward({BATCH // 2}, 1)"))
    update_us = max(_children_at_once("half_update()"))
    return {"forward_backward_us": forward_backward_us, "update_us": update_us,
            "floor_us": forward_backward_us + update_us}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = p.parse_args()
    result: dict[str, Any] = {"cpu_count": os.cpu_count(), "elementwise": elementwise_scaling(),
                              "adam_update_us": adam_update(), "forward_backward": data_parallel(),
                              "processes": data_parallel_processes()}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['cpu_count']} cores. Two threads against one (speedup = work per second, 2 threads / 1):")
    print("1. elementwise passes on private arrays:")
    for e in result["elementwise"]:
        print(f"     {e['elements_per_call']:>8,} elements per call: {e['speedup']:.2f}x")
    a = result["adam_update_us"]
    print(f"2. Adam update of the reference network: {a['one_thread']:.0f} us per step in one thread, "
          f"{a['two_threads']:.0f} us split over two ({a['speedup']:.2f}x)")
    f = result["forward_backward"]
    print(f"3. forward + backward: batch {BATCH} with 2 BLAS threads {f['full_batch_two_blas_threads_us']:.0f} us; "
          f"two half batches in two threads, 1 BLAS thread each, {f['two_half_batches_in_threads_us']:.0f} us "
          f"({f['speedup']:.2f}x)")
    q = result["processes"]
    print(f"4. two processes at once, 1 BLAS thread each: half-batch forward + backward "
          f"{q['forward_backward_us']:.0f} us, summing gradients + Adam on half the parameters "
          f"{q['update_us']:.0f} us: a floor of {q['floor_us']:.0f} us "
          f"a step for two-process data parallelism, before gathering and exchanges")


if __name__ == "__main__":
    main()
