"""Score a model on pen-drawn canvases through the whole pipeline (canvas -> preprocess -> model).

    MLP_DATA_DIR=../shared python -m benchmarks.drawn_digits --model models/default.npz \\
        [--n 2000] [--seed 0] [--json] [--sheet /tmp/drawn.png]

The drawings come from ``drawn.generate`` (strokes traced from MNIST *test*
digits and redrawn with a round pen; see that module), so no model has
trained on them. Prints the accuracy, per-class accuracy, and accuracy by
brush width and by ink height. ``--sheet`` also saves a contact sheet of the
first 40 canvases, to see what is being measured. Needs real MNIST.
"""

import argparse
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from data import load_dataset
from drawn import drawn_inputs, make_drawn_digits, score_drawn
from mlp import load_model
from mlp.arrays import Pixels


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/default.npz", help="model file (.npz)")
    p.add_argument("--n", type=int, default=2000, help="number of drawings (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--sheet", metavar="PNG", help="save a contact sheet of the first 40 canvases")
    args = p.parse_args(argv)
    if args.n < 1 or args.seed < 0:
        p.error("--n must be >= 1 and --seed >= 0")
    return args


def contact_sheet(canvases: Pixels, path: str | os.PathLike[str], columns: int = 8, tile: int = 140) -> None:
    """Save canvases (k, 280, 280) uint8 side by side, downscaled, with grey gaps."""
    from PIL import Image

    rows = -(-len(canvases) // columns)
    sheet = Image.new("L", (columns * (tile + 2), rows * (tile + 2)), 80)
    for i, canvas in enumerate(canvases):
        small = Image.fromarray(canvas).resize((tile, tile), Image.Resampling.BOX)
        sheet.paste(small, ((i % columns) * (tile + 2), (i // columns) * (tile + 2)))
    sheet.save(path)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    model = load_model(args.model)
    dataset = load_dataset("mnist")
    started = time.perf_counter()
    result = score_drawn(model, drawn_inputs(args.n, args.seed, dataset=dataset))
    result["model"] = args.model
    result["mnist_test_accuracy"] = model.meta.get("test_accuracy")
    result["seconds"] = round(time.perf_counter() - started, 1)
    if args.sheet:
        drawn = make_drawn_digits(min(args.n, 40), args.seed, dataset.x_test, dataset.y_test)
        contact_sheet(drawn.canvases, args.sheet)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report(result))


def report(r: Mapping[str, Any]) -> str:
    """Human-readable summary of a score_drawn result."""
    mnist = r.get("mnist_test_accuracy")
    lines = [
        f"{r['model']}: {r['accuracy']:.2%} of {r['n']:,} drawn digits (seed {r['seed']}, "
        f"generator v{r['generator_version']}, preprocess v{r['preprocess_version']}, {r['seconds']} s)"
        + (f"; MNIST test {mnist:.2%}" if isinstance(mnist, (int, float)) else ""),
        "per digit:   " + "  ".join(f"{d}: {a:.1%}" for d, a in enumerate(r["per_class_accuracy"])),
    ]
    for title, buckets in (("brush px", r["by_brush"]), ("height px", r["by_height"])):
        cells = [f"{k}: {v['accuracy']:.1%} (n={v['n']})" for k, v in buckets.items() if v["n"]]
        lines.append(f"{title + ':':<12} " + "  ".join(cells))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
