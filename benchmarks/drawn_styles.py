"""Handwriting styles, writers and negatives: generation speed, and how a model reads them.

    MLP_DATA_DIR=../shared python -m benchmarks.drawn_styles --model models/default.npz \\
        [--n 5000] [--negatives 2000] [--seed 0] [--speed-n 500] [--repeats 3] [--json] [--sheet PNG]

* speed: ``styled_images`` (MNIST *train* sources, as for training) and ``negative_images``,
  milliseconds per drawing on one core (median of ``--repeats`` runs; the machine is shared);
* the held-out pen-digit set (``pen_digit_inputs``: MNIST *test* sources, simulated writers,
  the PEN_MIX style mix): accuracy per digit, per style and per writer (the worst ones);
* negatives from the evaluation fonts: the model's median top probability per kind, and the
  share of capital letters that look like no digit (all but O I S Z B G Q) it would doubt if
  its top probability were the doubt signal, at the threshold that flags 1.5% of pen digits.

``--sheet`` saves a contact sheet: a row per style, then rows of letters, scribbles and shapes.
"""

import argparse
import json
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from data import Dataset, load_dataset
from drawn.negatives import DIGIT_LIKE_LETTERS, iter_negatives, negative_images
from drawn.styles import STYLES, iter_styled_digits, pen_digit_inputs, score_styles, styled_images
from mlp import MLP, load_model
from mlp.arrays import Floats

#: Share of pen digits the doubt threshold flags (the issue's operating point).
FLAG_RATE = 0.015


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/default.npz", help="model file (.npz)")
    p.add_argument("--n", type=int, default=5000, help="pen digits to score (default 5000)")
    p.add_argument("--negatives", type=int, default=2000, help="negatives to score (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--speed-n", type=int, default=500, help="drawings per timed run (default 500, 0 = skip)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs, median reported (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--sheet", metavar="PNG", help="save a contact sheet of every style and negative kind")
    args = p.parse_args(argv)
    if args.n < 1 or args.negatives < 1 or args.seed < 0 or args.speed_n < 0 or args.repeats < 1:
        p.error("--n, --negatives and --repeats must be >= 1, --seed and --speed-n >= 0")
    return args


def speed(dataset: Dataset, n: int, repeats: int, seed: int) -> dict[str, Any]:
    """Median ms per drawing of styled_images and negative_images over ``repeats`` runs of n."""
    out: dict[str, Any] = {}
    for name, run in (
        ("styled_images_ms", lambda s: styled_images(n, s, dataset.x_train, dataset.y_train)),
        ("negative_images_ms", lambda s: negative_images(n, s, split="train")),
    ):
        times, cpu = [], []
        for r in range(repeats):
            started, started_cpu = time.perf_counter(), time.process_time()
            run(seed + r)
            times.append((time.perf_counter() - started) * 1000 / n)
            cpu.append((time.process_time() - started_cpu) * 1000 / n)
        # CPU time too: on a shared machine the wall clock also counts other processes' turns.
        out[name] = {"median": statistics.median(times), "runs": [round(t, 2) for t in times],
                     "cpu_median": statistics.median(cpu)}
    out["n"], out["cpu_cores_used"] = n, 1
    out["minutes_for_20000_styled"] = out["styled_images_ms"]["median"] * 20_000 / 60_000
    return out


def negatives_report(model: MLP, digit_top: Floats, n: int, seed: int) -> dict[str, Any]:
    """Median top probability per negative kind; letters doubted at the threshold flagging FLAG_RATE of digits."""
    images, kinds, chars = negative_images(n, seed, split="eval")
    top = model.predict_proba(images.reshape(len(images), -1).astype(np.float32) / 255).max(axis=1)
    threshold = float(np.quantile(digit_top, FLAG_RATE))
    letters = kinds == "letters"
    unlike = letters & ~np.isin(chars, list(DIGIT_LIKE_LETTERS))
    report = {
        "n": int(n),
        "median_top_probability": {k: float(np.median(top[kinds == k])) for k in sorted(set(kinds.tolist()))},
        "threshold_flagging_1.5pct_of_pen_digits": threshold,
        "flagged_at_threshold": {k: float((top[kinds == k] < threshold).mean()) for k in sorted(set(kinds.tolist()))},
        "letters_not_digit_like_flagged": float((top[unlike] < threshold).mean()),
        "letters_not_digit_like_median_top": float(np.median(top[unlike])),
        "per_letter_median_top": {c: float(np.median(top[letters & (chars == c)]))
                                  for c in sorted(set(chars[letters].tolist()))},
    }
    return report


def sheet(dataset: Dataset, path: str, seed: int, per_row: int = 8, tile: int = 110) -> None:
    """Contact sheet: a row per style (MNIST test sources), then letters, scribbles and shapes."""
    from benchmarks.drawn_digits import contact_sheet

    canvases = []
    for name in STYLES:
        canvases += [d.canvas for d in iter_styled_digits(per_row, seed, dataset.x_test, dataset.y_test,
                                                          styles=[name])]
    for kind in ("letters", "scribbles", "shapes"):
        canvases += [d.canvas for d in iter_negatives(2 * per_row if kind != "scribbles" else per_row, seed,
                                                      split="eval", kinds=(kind,))]
    contact_sheet(np.array(canvases), path, columns=per_row, tile=tile)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    model = load_model(args.model)
    dataset = load_dataset("mnist")
    result = {"model": args.model, "mnist_test_accuracy": model.meta.get("test_accuracy"),
              "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")}
    if args.speed_n:
        result["speed"] = speed(dataset, args.speed_n, args.repeats, args.seed)
    started = time.perf_counter()
    inputs = pen_digit_inputs(args.n, args.seed, dataset=dataset)
    result["pen_digits"] = score_styles(model, inputs)
    result["pen_digits"]["seconds"] = round(time.perf_counter() - started, 1)
    digit_top = model.predict_proba(inputs.x).max(axis=1)
    result["negatives"] = negatives_report(model, digit_top, args.negatives, args.seed)
    if args.sheet:
        sheet(dataset, args.sheet, args.seed)
    print(json.dumps(result, indent=2) if args.json else report(result))


def report(r: Mapping[str, Any]) -> str:
    """Human-readable summary."""
    lines = []
    if "speed" in r:
        s = r["speed"]
        lines.append(f"speed (one core, median of {len(s['styled_images_ms']['runs'])} runs of {s['n']}): "
                     f"styled_images {s['styled_images_ms']['median']:.1f} ms/drawing "
                     f"(CPU {s['styled_images_ms']['cpu_median']:.1f}; {s['minutes_for_20000_styled']:.1f} min "
                     f"for 20,000), negative_images {s['negative_images_ms']['median']:.1f} ms/drawing "
                     f"(CPU {s['negative_images_ms']['cpu_median']:.1f})")
    p = r["pen_digits"]
    mnist = r.get("mnist_test_accuracy")
    lines.append(f"{r['model']}: {p['accuracy']:.2%} of {p['n']:,} pen digits (seed {p['seed']}, "
                 f"{p['per_writer']['writers']} writers, {p['seconds']} s)"
                 + (f"; MNIST test {mnist:.2%}" if isinstance(mnist, (int, float)) else ""))
    lines.append("per digit:  " + "  ".join(f"{d}: {a:.1%}" for d, a in enumerate(p["per_class_accuracy"])))
    lines.append("per style:  " + "  ".join(f"{k}: {v['accuracy']:.1%} (n={v['n']})"
                                            for k, v in p["per_style"].items()))
    lines.append("mistakes:   " + ", ".join(f"{t} read as {r}: {n}" for t, r, n in p["confusions"])
                 + f" (1 as 7: {p['ones_read_as_7']}, 7 as 1: {p['sevens_read_as_1']})")
    w = p["per_writer"]
    lines.append(f"per writer: median {w['median']:.1%}, {w['below_90']} below 90%; worst "
                 + ", ".join(f"#{x['writer']} {x['accuracy']:.0%}" for x in w["worst"]))
    g = r["negatives"]
    lines.append("negatives (eval fonts): median top probability "
                 + ", ".join(f"{k} {v:.3f}" for k, v in g["median_top_probability"].items())
                 + f"; letters that look like no digit: median {g['letters_not_digit_like_median_top']:.3f}, "
                 f"{g['letters_not_digit_like_flagged']:.1%} doubted at the top-probability threshold "
                 f"{g['threshold_flagging_1.5pct_of_pen_digits']:.3f} that doubts 1.5% of pen digits")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
