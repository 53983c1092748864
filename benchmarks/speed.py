"""Training and inference speed of the NumPy MLP, against the GEMM bound and PyTorch.

    MLP_DATA_DIR=../shared python -m benchmarks.speed [--epochs 5] [--threads 2] [--json]
        [--no-torch] [--no-ui]

Reference configuration: 784-256-128-10, relu, batch 128, float32, the full 60,000
MNIST training images; the validation pass after each epoch runs on the 10,000
test images and is reported separately. It measures:

* seconds per training epoch (shuffle, gather, forward, backward, update) for each
  optimizer, and with dropout and L2, through the real `Trainer`;
* the GEMM bound: the epoch's matrix-multiply FLOPs divided by the GFLOP/s that
  numpy.matmul reaches on the same shapes and layouts, timed on their own;
* if PyTorch is importable, the same network, optimizer, batch size and thread
  count in PyTorch, and the NumPy/PyTorch ratio;
* the latency of one prediction (preprocessing a 280x280 RGBA canvas plus a
  forward pass) and the time to evaluate the test set, for the shipped model
  and the reference network;
* the Train page's cost: a `webapp.training.job.TrainingJob` (a worker process that
  reports progress and sends the weights every epoch) while another thread does
  what the page's live panel does every second, against the bare `Trainer`.

The machine may be shared, so every configuration runs its epochs in turn (one
epoch of each, then the next round), each figure is a median over epochs or
repeats, and the first epoch of each run is a warm-up left out of the medians.
PyTorch is not a project dependency: run this script with an interpreter that
has it (and this project's requirements) to get the comparison.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HIDDEN = (256, 128)
BATCH = 128
LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 1e-3}
REGULARISED = {
    "adam + dropout 0.2": {"dropout": 0.2},
    "adam + L2 1e-4": {"weight_decay": 1e-4},
    "adam + dropout + L2": {"dropout": 0.2, "weight_decay": 1e-4},
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5, help="measured epochs per configuration (after one warm-up)")
    p.add_argument("--threads", type=int, default=2, help="BLAS / PyTorch threads")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is importable")
    p.add_argument("--no-ui", action="store_true", help="skip the Train-page measurement")
    return p.parse_args(argv)


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # Thread counts must be fixed before NumPy (OpenBLAS) and PyTorch (OpenMP) start.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from data import Dataset, load_dataset  # noqa: E402
from mlp import MLP, TrainConfig, Trainer, build_model, load_model, to_inputs  # noqa: E402
from mlp.metrics import Evaluation  # noqa: E402
from mlp.preprocess import preprocess, to_model_input  # noqa: E402

#: One epoch of a run: (training seconds, validation seconds, validation accuracy).
EpochTimes = tuple[float, float, float | None]


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


# -- environment ----------------------------------------------------------------------------------


def environment(threads: int, torch: ModuleType | None) -> dict[str, Any]:
    """What the figures depend on: CPU, NumPy and its BLAS (kernel, threads), PyTorch."""
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
    }
    try:
        import threadpoolctl

        blas = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
        if blas:
            env["blas"] = {k: blas[0].get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
    except ImportError:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        env["blas"] = {"internal_api": cfg.get("name"), "version": cfg.get("version"),
                       "architecture": "unknown (install threadpoolctl to see the kernel)", "num_threads": None}
    if torch is not None:
        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
    return env


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def import_torch(threads: int, wanted: bool) -> ModuleType | None:
    if not wanted:
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


# -- NumPy training ---------------------------------------------------------------------------------


def numpy_config(optimizer: str, epochs: int, dropout: float = 0.0, weight_decay: float = 0.0) -> TrainConfig:
    return TrainConfig(hidden=HIDDEN, activation="relu", optimizer=optimizer, lr=LR[optimizer], batch_size=BATCH,
                       epochs=epochs, dropout=dropout, weight_decay=weight_decay, val_fraction=0.0, seed=0,
                       dtype="float32")


def numpy_run(config: TrainConfig, ds: Dataset) -> Iterator[EpochTimes]:
    """Yield (train seconds, validation seconds, validation accuracy) per epoch of the real Trainer."""
    model = build_model(config)
    trainer = Trainer(model, config, ds.x_train, ds.y_train, validation=(ds.x_test, ds.y_test))
    for record in trainer.run():
        yield record.seconds, record.val_seconds, record.val_accuracy


# -- PyTorch training --------------------------------------------------------------------------------


def torch_data(torch: ModuleType, ds: Dataset) -> tuple[Any, ...]:
    """Training and test images as float32 tensors in [0, 1], labels as int64 (made once, shared by runs)."""
    return tuple(torch.from_numpy(a) for a in (to_inputs(ds.x_train), ds.y_train.astype(np.int64),
                                                  to_inputs(ds.x_test), ds.y_test.astype(np.int64)))


def torch_run(torch: ModuleType, optimizer: str, epochs: int, data: Sequence[Any],
              fused: bool = False) -> Iterator[tuple[float, float, float]]:
    """The same network, optimizer and batch size in PyTorch, written as a PyTorch user would.

    The training images are one float32 tensor scaled to [0, 1] once (PyTorch's
    fastest path; the NumPy Trainer gathers uint8 rows and scales each batch).
    Each epoch draws a fresh permutation; the time covers shuffling, gathering,
    forward, backward and the update, like the NumPy figure.
    """
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(784, HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], HIDDEN[1]), nn.ReLU(),
                          nn.Linear(HIDDEN[1], 10))
    kw = {"fused": True} if fused else {}
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=LR["adam"], **kw)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=LR[optimizer], momentum=0.9 if optimizer != "sgd" else 0.0,
                              nesterov=optimizer == "nesterov", **kw)
    x, y, x_val, y_val = data
    gen = torch.Generator().manual_seed(0)
    n = len(x)
    for _ in range(epochs):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, BATCH):
            idx = order[start:start + BATCH]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        model.eval()
        with torch.no_grad():
            acc = float((model(x_val).argmax(dim=1) == y_val).float().mean())
        yield seconds, time.perf_counter() - started, acc


def round_robin(runs: Mapping[str, Iterator[EpochTimes]], epochs: int,
                each_round: Callable[[], Any]) -> tuple[dict[str, list[EpochTimes]], list[Any]]:
    """Run one epoch of each run in turn, and each_round() once per round.

    Returns ({name: [(train s, val s, val acc), ...]}, [each_round() results]), both
    without the warm-up round.
    """
    results: dict[str, list[EpochTimes]] = {name: [] for name in runs}
    extra = []
    for epoch in range(epochs + 1):
        for name, run in runs.items():
            record = next(run)
            if epoch > 0:
                results[name].append(record)
        if epoch > 0:
            extra.append(each_round())
    return results, extra


def step_breakdown(ds: Dataset, optimizer: str = "adam", steps: int = 400) -> dict[str, float]:
    """Median microseconds per part of one training step (reference network), from the Trainer's own pieces."""
    from mlp.losses import softmax_cross_entropy

    config = numpy_config(optimizer, 1)
    model = build_model(config)
    trainer = Trainer(model, config, ds.x_train, ds.y_train)
    order = np.random.default_rng(0).permutation(len(ds.x_train))
    parts: dict[str, list[float]] = {"gather": [], "forward": [], "loss": [], "backward": [], "update": []}
    clock = time.perf_counter
    for b in range(steps):
        idx = order[(b * BATCH) % (len(order) - BATCH):][:BATCH]
        t0 = clock()
        x = trainer._gather(idx)
        y = trainer.y[idx]
        t1 = clock()
        logits = model.forward(x, training=True)
        t2 = clock()
        _, _, grad = softmax_cross_entropy(logits, y)
        t3 = clock()
        model.backward(grad)
        t4 = clock()
        trainer.optimizer.step(config.lr)
        t5 = clock()
        for name, (a, z) in zip(parts, ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5))):
            parts[name].append(z - a)
    return {name: median(v[steps // 4:]) * 1e6 for name, v in parts.items()}


# -- the GEMM bound ----------------------------------------------------------------------------------


def gemm_shapes(sizes: Sequence[int], batch: int) -> list[tuple[str, tuple[int, int], tuple[int, int], str]]:
    """The matrix products of one training step, as (name, a, b) shapes in the network's own layouts.

    Forward x @ W per layer; backward x.T @ grad (weight gradient) per layer and
    grad @ W.T (input gradient) for every layer but the first.
    """
    shapes = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes.append((f"forward {i}: ({batch},{n_in}) @ ({n_in},{n_out})", (batch, n_in), (n_in, n_out), ""))
        shapes.append((f"weight grad {i}: ({n_in},{batch}) @ ({batch},{n_out})", (batch, n_in), (batch, n_out), "aT"))
        if i > 0:
            name = f"input grad {i}: ({batch},{n_out}) @ ({n_out},{n_in})"
            shapes.append((name, (batch, n_out), (n_in, n_out), "bT"))
    return shapes


def time_gemms(sizes: Sequence[int], batch: int, dtype: type[np.float32] | type[np.float64] = np.float32,
               min_seconds: float = 0.05) -> list[dict[str, Any]]:
    """Seconds per call of each of the step's matrix products, with out= as the layers call them."""
    rng = np.random.default_rng(0)
    timings = []
    for name, a_shape, b_shape, layout in gemm_shapes(sizes, batch):
        a = rng.random(a_shape, dtype=dtype)
        b = rng.random(b_shape, dtype=dtype)
        a_op = a.T if layout == "aT" else a
        b_op = b.T if layout == "bT" else b
        out = np.empty((a_op.shape[0], b_op.shape[1]), dtype)
        np.matmul(a_op, b_op, out=out)
        reps = 1
        while True:  # enough calls for a stable figure, then the best of 5 such loops
            started = time.perf_counter()
            for _ in range(reps):
                np.matmul(a_op, b_op, out=out)
            if time.perf_counter() - started > min_seconds / 5:
                break
            reps *= 2
        best = math.inf
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(reps):
                np.matmul(a_op, b_op, out=out)
            best = min(best, (time.perf_counter() - started) / reps)
        flops = 2 * a_op.shape[0] * a_op.shape[1] * b_op.shape[1]
        timings.append({"gemm": name, "flops": flops, "seconds": best, "gflops": flops / best / 1e9})
    return timings


def one_thread_gemm_bound(n_samples: int, rounds: int = 3) -> dict[str, Any]:
    """The GEMM bound with a single BLAS thread, timed in a child process (BLAS threads are fixed at start)."""
    import subprocess

    code = ("import json; from benchmarks import speed; "
            f"print(json.dumps([speed.time_gemms([784, *speed.HIDDEN, 10], speed.BATCH) for _ in range({rounds})]))")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return gemm_bound(json.loads(out.stdout), n_samples, BATCH)


def gemm_bound(per_round: Sequence[Sequence[Mapping[str, Any]]], n_samples: int, batch: int) -> dict[str, Any]:
    """Epoch GEMM FLOPs and the time numpy.matmul needs for them, from time_gemms() results (median)."""
    step_flops = sum(t["flops"] for t in per_round[0])
    steps = n_samples / batch  # the short last batch counts for its share of the FLOPs
    step_seconds = median([sum(t["seconds"] for t in r) for r in per_round])
    shapes = [{"gemm": t["gemm"], "gflops": median([r[i]["gflops"] for r in per_round])}
              for i, t in enumerate(per_round[0])]
    return {
        "epoch_gflop": step_flops * steps / 1e9,
        "gflops": step_flops / step_seconds / 1e9,
        "bound_seconds": step_seconds * steps,
        "shapes": shapes,
    }


# -- prediction and evaluation ------------------------------------------------------------------------


def drawn_canvas() -> NDArray[np.uint8]:
    """A 280x280 RGBA canvas with a thick white '7' on black, as the Draw page's canvas returns it."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    draw = ImageDraw.Draw(img)
    draw.line([(70, 60), (210, 60), (120, 230)], fill=(255, 255, 255, 255), width=22, joint="curve")
    return np.asarray(img)


def repeat_times(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls of fn()."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def prediction_latency(model: MLP, canvas: NDArray[np.uint8], repeats: int = 300) -> dict[str, float]:
    """Median and 95th-percentile seconds for preprocess + predict_proba on one canvas."""
    def predict() -> NDArray[Any]:
        return model.predict_proba(to_model_input(preprocess(canvas)))[0]

    x28 = preprocess(canvas)
    predict()
    total = repeat_times(predict, repeats)
    pre = repeat_times(lambda: preprocess(canvas), repeats)
    fwd = repeat_times(lambda: model.predict_proba(to_model_input(x28)), repeats)
    return {
        "median_seconds": median(total),
        "p95_seconds": float(np.percentile(total, 95)),
        "preprocess_seconds": median(pre),
        "forward_seconds": median(fwd),
        "digit": int(predict().argmax()),
    }


def evaluation_time(model: MLP, ds: Dataset, repeats: int = 7) -> dict[str, float]:
    """Median seconds to score the test set from its uint8 images (conversion included), and the accuracy."""
    def run() -> Evaluation:
        return model.evaluate(to_inputs(ds.x_test), ds.y_test)

    acc = run().accuracy
    return {"median_seconds": median(repeat_times(run, repeats)), "accuracy": acc}


def torch_evaluation_time(torch: ModuleType, model_np: MLP, ds: Dataset, repeats: int = 7) -> dict[str, float]:
    """The same evaluation (conversion, forward, softmax, accuracy) in PyTorch, with the reference weights."""
    nn = torch.nn
    layers = []
    for i, d in enumerate(model_np.dense):
        lin = nn.Linear(*d.params["W"].shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(d.params["W"].T.copy()))
            lin.bias.copy_(torch.from_numpy(d.params["b"]))
        layers += [lin, nn.ReLU()] if i < len(model_np.dense) - 1 else [lin]
    net = nn.Sequential(*layers).eval()
    x8 = torch.from_numpy(ds.x_test.reshape(len(ds.x_test), -1).copy())
    y = torch.from_numpy(ds.y_test.astype(np.int64))

    def run() -> float:
        with torch.no_grad():
            probs = torch.softmax(net(x8.float().mul_(1 / 255)), dim=1)
            return float((probs.argmax(dim=1) == y).float().mean())

    acc = run()
    return {"median_seconds": median(repeat_times(run, repeats)), "accuracy": acc}


# -- the Train page -----------------------------------------------------------------------------------


# The Train page's live panel reruns this often while a run trains (app_pages/train.py).
PAGE_RERUN_SECONDS = 1.0


def ui_overhead(ds: Dataset, epochs: int, rounds: int = 3) -> dict[str, Any]:
    """Epoch seconds of training through the Train page's machinery against the bare Trainer (Adam).

    The page starts a `webapp.training.job.TrainingJob`, which trains on the task engine one
    epoch per task (the run's state goes out and comes back each epoch, progress comes as
    events), and the page's live panel reruns every PAGE_RERUN_SECONDS: it reads the
    job's progress, ETA and records and builds both history charts into the
    Vega-Lite JSON that Streamlit sends to the browser. A thread here does the same.
    """
    try:
        from webapp.training import engine as engines
        from webapp.training.job import TrainingJob
        from webapp.training.sources import training_split
        from webapp.views import charts
    except ImportError as e:
        return {"skipped": f"webapp not importable here ({e})"}
    bare, paged = [], []
    for _ in range(rounds):  # alternate, so that a busy spell on a shared machine hits both
        bare += [s for s, _, _ in list(numpy_run(numpy_config("adam", epochs + 1), ds))[1:]]
        job = paged_job(ds, numpy_config("adam", epochs + 1), charts, TrainingJob, engines.shared(workers=1),
                        training_split)
        if job.state != "completed":
            return {"skipped": f"the training job ended {job.state}: {job.error}"}
        paged += [r.seconds for r in job.records[1:]]
    b, p = median(bare), median(paged)
    return {"bare_seconds": b, "page_seconds": p, "overhead": p / b - 1}


def paged_job(ds: Dataset, config: TrainConfig, charts: ModuleType, TrainingJob: Any, engine: Any,
              training_split: Any) -> Any:
    """Run one TrainingJob to its end while a thread polls it the way the live panel does."""
    job = TrainingJob("bench", build_model(config), config, training_split(ds), engine=engine)
    done = threading.Event()

    def poll() -> None:
        while not done.wait(PAGE_RERUN_SECONDS):
            job.progress(), job.eta_seconds()
            history = job.snapshot.meta.get("history", []) if job.snapshot is not None else []
            if history:
                charts.history_chart(history, "loss").to_dict()
                charts.history_chart(history, "accuracy").to_dict()

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    job.start()
    job.join()
    done.set()
    poller.join()
    return job


# -- putting it together ----------------------------------------------------------------------------------


def main(args: argparse.Namespace) -> dict[str, Any]:
    torch = import_torch(args.threads, not args.no_torch)
    load_before = os.getloadavg()
    ds = load_dataset("mnist")
    n_train = len(ds.x_train)
    result: dict[str, Any] = {
        "config": {"layers": [784, *HIDDEN, 10], "activation": "relu", "batch_size": BATCH, "dtype": "float32",
                   "train_samples": n_train, "epochs_measured": args.epochs},
        "environment": environment(args.threads, torch)}

    runs = {name: numpy_run(numpy_config(name, args.epochs + 1), ds)
            for name in ("adam", "momentum", "nesterov", "sgd")}
    for name, extra in REGULARISED.items():
        runs[name] = numpy_run(numpy_config("adam", args.epochs + 1, **extra), ds)
    if torch is not None:
        data = torch_data(torch, ds)
        for name in ("adam", "momentum", "nesterov", "sgd"):
            runs[f"torch {name}"] = torch_run(torch, name, args.epochs + 1, data)
        runs["torch adam fused"] = torch_run(torch, "adam", args.epochs + 1, data, fused=True)
    # The GEMMs are timed once per round too, so that they see the same machine as the epochs.
    epochs, gemm_timings = round_robin(runs, args.epochs, lambda: time_gemms([784, *HIDDEN, 10], BATCH))
    bound = gemm_bound(gemm_timings, n_train, BATCH)
    result["gemm"] = bound
    one = one_thread_gemm_bound(n_train)
    result["gemm_one_thread"] = {k: one[k] for k in ("gflops", "bound_seconds")}

    training = {}
    for name, recs in epochs.items():
        seconds = median([r[0] for r in recs])
        training[name] = {
            "seconds_per_epoch": seconds,
            "samples_per_second": n_train / seconds,
            "validation_seconds": median([r[1] for r in recs]),
            "val_accuracy": recs[-1][2],
            "epoch_seconds": [r[0] for r in recs],
        }
        if not name.startswith("torch"):
            training[name]["vs_gemm_bound"] = seconds / bound["bound_seconds"]
            if name != "adam":
                training[name]["vs_adam"] = seconds / training_median(epochs, "adam")
            if f"torch {name}" in epochs:
                training[name]["vs_torch"] = seconds / training_median(epochs, f"torch {name}")
    if "torch adam fused" in epochs:
        fused = training_median(epochs, "torch adam fused")
        training["adam"]["vs_torch_fused"] = training["adam"]["seconds_per_epoch"] / fused
    result["training"] = training
    result["step_microseconds"] = {name: step_breakdown(ds, name) for name in ("adam", "momentum")}
    result["step_microseconds"]["gemm only"] = {"gemm": bound["bound_seconds"] / (n_train / BATCH) * 1e6}
    # Adam's update cannot overlap the products (each step's products need the updated weights, and
    # the products already use every core), so bound + update is a floor for any loop built like this one.
    update = result["step_microseconds"]["adam"]["update"] * 1e-6 * (n_train / BATCH)
    result["adam_floor"] = {"update_seconds": update, "bound_plus_update_seconds": bound["bound_seconds"] + update,
                            "vs_gemm_bound": (bound["bound_seconds"] + update) / bound["bound_seconds"]}

    reference = build_model(numpy_config("adam", 1))
    shipped = load_model(os.path.join(ROOT, "models", "default.npz"))
    canvas = drawn_canvas()
    result["prediction"] = {"shipped": prediction_latency(shipped, canvas),
                            "reference": prediction_latency(reference, canvas)}
    result["evaluation"] = {"shipped": evaluation_time(shipped, ds), "reference": evaluation_time(reference, ds)}
    if torch is not None:
        result["evaluation"]["torch reference"] = torch_evaluation_time(torch, reference, ds)
    result["shipped_model"] = shipped.layer_sizes
    result["train_page"] = {"skipped": "--no-ui"} if args.no_ui else ui_overhead(ds, args.epochs)
    # Other work on the machine slows everything down; the load average shows how busy it was.
    result["environment"]["load_average_before"] = load_before[0]
    result["command"] = " ".join(["python -m benchmarks.speed", *sys.argv[1:]])
    return result


def training_median(epochs: Mapping[str, Sequence[EpochTimes]], name: str) -> float:
    return median([r[0] for r in epochs[name]])


def print_table(r: Mapping[str, Any]) -> None:
    env, cfg, g = r["environment"], r["config"], r["gemm"]
    blas = env.get("blas", {})
    layers = "-".join(map(str, cfg["layers"]))
    print(f"Digit Lab speed: MLP {layers} relu, batch {cfg['batch_size']}, {cfg['dtype']}, "
          f"{cfg['train_samples']:,} training images, {env['threads']} threads")
    print(f"CPU {env['cpu']} ({env['cpu_count']} cores); NumPy {env['numpy']}, {blas.get('internal_api')} "
          f"{blas.get('version')} kernel {blas.get('architecture')}, {blas.get('num_threads')} threads; "
          f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE'] or 'unset'}, "
          f"OPENBLAS_L2_SIZE={env['OPENBLAS_L2_SIZE'] or 'unset'}")
    print(f"PyTorch {env['torch']} ({env['torch_threads']} threads)" if "torch" in env else "PyTorch: not importable")
    print(f"Load average before the run: {env['load_average_before']:.2f} (other work on the machine; "
          "anything near or above 1 slows the two-thread figures)")
    print()
    print(f"Training: median of {cfg['epochs_measured']} epochs after a warm-up, configurations taking turns")
    head = (f"{'':26}{'s/epoch':>9}{'samples/s':>11}{'val s':>8}{'/ GEMM bound':>13}"
            f"{'PyTorch s':>11}{'NumPy/PyTorch':>15}")
    print(head)
    t = r["training"]
    for name, v in t.items():
        if name.startswith("torch"):
            continue
        torch_s = t.get(f"torch {name}", {}).get("seconds_per_epoch")
        extra = f"   ({v['vs_adam'] - 1:+.1%} vs adam)" if "vs_adam" in v else ""
        print(f"{name:<26}{v['seconds_per_epoch']:9.3f}{v['samples_per_second']:11,.0f}{v['validation_seconds']:8.3f}"
              f"{v['vs_gemm_bound']:12.2f}x"
              + (f"{torch_s:11.3f}{v['vs_torch']:14.2f}x" if torch_s else "") + extra)
    if "torch adam fused" in t:
        f = t["torch adam fused"]["seconds_per_epoch"]
        print(f"{'(PyTorch Adam fused=True)':<26}{'':9}{'':11}{'':8}{'':13}{f:11.3f}"
              f"{t['adam']['vs_torch_fused']:14.2f}x")
    print()
    print(f"GEMM bound: {g['epoch_gflop']:.1f} GFLOP per epoch at {g['gflops']:.0f} GFLOP/s "
          f"(numpy.matmul, same shapes) = {g['bound_seconds']:.3f} s per epoch")
    for s in g["shapes"]:
        print(f"    {s['gemm']:<40}{s['gflops']:7.0f} GFLOP/s")
    one = r["gemm_one_thread"]
    print(f"With one BLAS thread: {one['gflops']:.0f} GFLOP/s = {one['bound_seconds']:.3f} s per epoch")
    f = r["adam_floor"]
    print(f"Adam's update alone (step breakdown below) costs {f['update_seconds']:.3f} s per epoch; with the products "
          f"that is {f['bound_plus_update_seconds']:.3f} s, {f['vs_gemm_bound']:.2f}x the bound, before any other work")
    print()
    print("One training step, median microseconds (the rest of an epoch is the per-batch bookkeeping):")
    for name, parts in r["step_microseconds"].items():
        print(f"    {name:<10}" + "".join(f"{k} {v:6.0f}   " for k, v in parts.items())
              + (f"total {sum(parts.values()):6.0f}" if len(parts) > 1 else ""))
    print()
    for key, label in (("shipped", f"models/default.npz ({'-'.join(map(str, r['shipped_model']))})"),
                       ("reference", f"reference net ({layers})")):
        p = r["prediction"][key]
        print(f"Prediction, {label}: {p['median_seconds'] * 1e3:.2f} ms median, {p['p95_seconds'] * 1e3:.2f} ms p95 "
              f"(preprocess {p['preprocess_seconds'] * 1e3:.2f} ms + forward {p['forward_seconds'] * 1e3:.2f} ms)")
    for key, v in r["evaluation"].items():
        print(f"Evaluation of the 10,000 test images, {key}: {v['median_seconds']:.3f} s")
    ui = r["train_page"]
    if "skipped" in ui:
        print(f"Train page: skipped ({ui['skipped']})")
    else:
        print(f"Train page (TrainingJob + live panel every {PAGE_RERUN_SECONDS:g} s): "
              f"{ui['page_seconds']:.3f} s/epoch against {ui['bare_seconds']:.3f} s bare ({ui['overhead']:+.1%})")


if __name__ == "__main__":
    results = main(ARGS)
    if ARGS.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
