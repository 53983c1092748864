"""Is the saliency map faithful, and is looking inside the network fast enough for every stroke?

    MLP_DATA_DIR=../shared python -m benchmarks.saliency [--model models/default.npz] [--n 1000]
        [--calls 200] [--json]

* The deletion test (`mlp.explain.deletion_drop`) on the first N MNIST test images: in each
  image the 10% of its ink pixels with the largest gradient x input for the predicted digit are
  set to 0, then (separately) as many ink pixels drawn at random (seed 0). Printed: the mean drop
  of the predicted digit's probability for both, their ratio (the issue asks for >= 2), the
  share of images where the salient drop is the larger, and the seconds it took. Once for the
  saliency of the log-probability (`mlp.explain`'s default) and once for that of the logit.
* What the Draw page calls per stroke, one image at a time (a different test image each call):
  `trace`, `saliency` for one digit (reusing the trace), and `Embedding.project`; the median
  of `--calls` calls each, and the sum for one stroke (trace, saliency for the predicted digit
  and one picked digit, project).
* `fit_embedding` on the 10,000 test images (done once per model; the app caches it).
"""

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from data import load_dataset
from mlp import MLP, load_model, to_inputs
from mlp.arrays import Floats
from mlp.explain import Embedding, deletion_drop, fit_embedding, saliency, trace

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default.npz"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--n", type=int, default=1000, help="test images in the deletion test")
    p.add_argument("--calls", type=int, default=200, help="timed single-image calls of each function")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    return p.parse_args(argv)


def deletion(model: MLP, x: Floats, of: str, fraction: float = 0.1, seed: int = 0) -> dict[str, Any]:
    """The deletion test on x (n, 784) for the predicted digits, with saliency of `of`."""
    start = time.perf_counter()
    result = deletion_drop(model, x, None, fraction, np.random.default_rng(seed), of=of)
    seconds = time.perf_counter() - start
    salient, random = float(result.salient.mean()), float(result.random.mean())
    return {
        "saliency_of": of, "images": len(x), "fraction": fraction,
        "mean_salient_drop": salient, "mean_random_drop": random,
        "ratio": salient / random if random > 0 else float("inf"),
        "share_salient_larger": float((result.salient > result.random).mean()),
        "seconds": seconds,
    }


def median_ms(fn: Callable[[int], object], calls: int) -> float:
    """Median milliseconds of fn(i) for i in range(calls), after one warm-up call."""
    fn(0)
    times = []
    for i in range(calls):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def per_call(model: MLP, x_calls: Floats, embedding: Embedding) -> dict[str, float]:
    """Median ms of what the Draw page runs each stroke, one (1, 784) image per call."""
    rows = [x_calls[i:i + 1] for i in range(len(x_calls))]
    traces = [trace(model, r) for r in rows]
    n = len(rows)

    def stroke(i: int) -> None:
        t = trace(model, rows[i])
        digit = int(t.probs[0].argmax())
        saliency(model, rows[i], digit, traced=t)
        saliency(model, rows[i], (digit + 1) % 10, traced=t)  # the digit the user picked
        embedding.project(t.hidden[-1])

    return {
        "trace": median_ms(lambda i: trace(model, rows[i]), n),
        "saliency": median_ms(lambda i: saliency(model, rows[i], 9, traced=traces[i]), n),
        "project": median_ms(lambda i: embedding.project(traces[i].hidden[-1]), n),
        "stroke": median_ms(stroke, n),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load = os.getloadavg()[0]
    model = load_model(args.model)
    ds = load_dataset("mnist")
    x_test = to_inputs(ds.x_test, model.dtype)

    start = time.perf_counter()
    embedding = fit_embedding(model, x_test)
    fit_seconds = time.perf_counter() - start

    results = {
        "model": str(args.model), "layer_sizes": model.layer_sizes, "activation": model.activation,
        "load_average_before": load,
        "deletion": [deletion(model, x_test[:args.n], of) for of in ("log_prob", "logit")],
        "per_call_ms": per_call(model, x_test[-args.calls:], embedding),
        "calls": args.calls,
        "fit_embedding_seconds": fit_seconds,
        "embedding_explained_variance_ratio": embedding.explained_variance_ratio.tolist(),
    }
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"{args.model}: {'-'.join(map(str, model.layer_sizes))} {model.activation}; load average {load:.2f}")
    print(f"deletion test, first {args.n} MNIST test images, 10% of ink blanked, predicted digit:")
    for d in results["deletion"]:
        print(f"  saliency of the {d['saliency_of']:>8}: mean drop {d['mean_salient_drop']:.4f} salient vs "
              f"{d['mean_random_drop']:.4f} random = {d['ratio']:.1f}x; salient larger in "
              f"{d['share_salient_larger']:.1%} of images; {d['seconds']:.2f} s")
    ms = results["per_call_ms"]
    print(f"per call, one image, median of {args.calls}: trace {ms['trace']:.3f} ms, saliency {ms['saliency']:.3f} ms, "
          f"project {ms['project']:.4f} ms")
    print(f"one stroke (trace, saliency of 2 digits, project): {ms['stroke']:.3f} ms")
    ratio = results["embedding_explained_variance_ratio"]
    print(f"fit_embedding on {len(x_test)} test images: {fit_seconds:.2f} s "
          f"(axes explain {ratio[0]:.1%} and {ratio[1]:.1%} of the variance)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
