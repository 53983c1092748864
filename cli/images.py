"""`predict` and `explain`: image files read like drawings, one record per file."""

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlp.arrays import Floats
from mlp.explain import saliency, trace
from mlp.io import load_model
from mlp.network import MLP
from mlp.preprocess import load_image, preprocess, to_model_input
from mlp.unsure import judge, threshold_of

#: What one image file gave, as printed with --json.
Record = dict[str, Any]


def cmd_predict(args: argparse.Namespace) -> int:
    """Preprocess each image like a drawing and print the digit and probabilities."""

    def summary(path: Path, record: Record) -> str:
        probs = " ".join(f"{p:.3f}" for p in record["probabilities"])
        doubt = f"  {record['doubt']}" if record["doubt"] else ""
        return f"{path}: {record['digit']} ({max(record['probabilities']):.1%})  [{probs}]{doubt}"

    return for_each_image(args, predict_file, summary)


def for_each_image(args: argparse.Namespace, record_of: Callable[[MLP, Path], Record],
                   summary: Callable[[Path, Record], str]) -> int:
    """Print record_of(model, path) for every image (a JSON line with --json, else summary(path, record)).

    A file that cannot be read gets an error line and the others still run; the exit status is then 1.
    """
    model = load_model(args.model)
    failures = 0
    for path in args.images:
        record = record_of(model, path)
        failures += "error" in record
        if args.json:
            print(json.dumps(record), flush=True)
        elif "error" in record:
            print(f"{path}: error: {record['error']}", flush=True)
        elif record["digit"] is None:
            print(f"{path}: empty image, no digit", flush=True)
        else:
            print(summary(path, record), flush=True)
    return 1 if failures else 0


def predict_file(model: MLP, path: Path) -> Record:
    """{'file', 'digit', 'probabilities'} for one image file, or {'file', 'error'}."""
    try:
        x = preprocess(load_image(path))
    except (ValueError, OSError) as e:
        return {"file": str(path), "error": str(e)}
    if x is None:
        return {"file": str(path), "digit": None, "probabilities": None, "unsure": None, "doubt": None}
    probs = model.predict_proba(to_model_input(x))[0]
    verdict = judge(probs, threshold_of(model))
    return {"file": str(path), "digit": verdict.best, "probabilities": [round(float(p), 6) for p in probs],
            "unsure": verdict.unsure, "doubt": verdict.message(class_names(model), noun_of(model))}


def class_names(model: MLP) -> list[str]:
    """The model's class names (its dataset's), or the digits."""
    return model.meta.get("class_names") or [str(d) for d in range(model.layer_sizes[-1])]


def noun_of(model: MLP) -> str:
    """What one class is called in messages: "digit" for MNIST models, else "class"."""
    return "digit" if model.meta.get("dataset", "mnist") == "mnist" else "class"


def cmd_explain(args: argparse.Namespace) -> int:
    """For each image: the digit, the input the network saw, its hidden activations and the saliency map."""
    return for_each_image(args, explain_file, explain_summary)


def explain_file(model: MLP, path: Path) -> Record:
    """{'file', 'digit', 'probabilities', 'input', 'activations', 'saliency'} for one image, or {'file', 'error'}.

    input and saliency are 28x28 nested lists (input exactly as fed to the network; saliency is
    gradient x input of the predicted digit's log-probability, see `mlp.explain.saliency`);
    activations holds one list per hidden layer. An empty image gives digit None and no arrays.
    """
    try:
        x = preprocess(load_image(path))
    except (ValueError, OSError) as e:
        return {"file": str(path), "error": str(e)}
    if x is None:
        return {"file": str(path), "digit": None, "probabilities": None, "input": None, "activations": None,
                "saliency": None}
    row = to_model_input(x)  # (1, 784)
    traced = trace(model, row)
    probs = traced.probs[0]
    digit = int(probs.argmax())
    side = int(round(row.shape[1] ** 0.5))
    return {
        "file": str(path),
        "digit": digit,
        "probabilities": [round(float(p), 6) for p in probs],
        "input": row.reshape(side, side).tolist(),
        "activations": [significant(h[0]) for h in traced.hidden],
        "saliency": [significant(r) for r in saliency(model, row, digit, traced=traced).reshape(side, side)],
    }


def significant(values: Floats, digits: int = 6) -> list[float]:
    """A 1-D array as a list of floats rounded to `digits` significant digits (saliency can be 1e-9 small)."""
    return [float(f"{v:.{digits}g}") for v in values.tolist()]


def explain_summary(path: Path, record: Record) -> str:
    """Two short lines about one explained image: digit, each hidden layer's strongest unit, where the evidence is."""
    sal = record["saliency"]
    flat = [(v, r, c) for r, line in enumerate(sal) for c, v in enumerate(line)]
    positive = sum(v for v, _, _ in flat if v > 0)
    top = sorted((f for f in flat if f[0] > 0), reverse=True)[:max(1, len(flat) // 20)]
    share = sum(v for v, _, _ in top) / positive if positive > 0 else 0.0
    rows = [r for _, r, _ in top] or [0]
    cols = [c for _, _, c in top] or [0]
    layers = "; ".join(f"{len(layer)} units, strongest #{layer.index(max(layer))} ({max(layer):.3g})"
                       for layer in record["activations"])
    return (f"{path}: {record['digit']} ({max(record['probabilities']):.1%}); hidden layers: {layers}"
            f"\n  the strongest evidence for {record['digit']}: {len(top)} pixels in rows "
            f"{min(rows)}-{max(rows)}, columns {min(cols)}-{max(cols)} carry {share:.0%} of it")
