"""`evaluate`: a model's test-set scores, and on pen-drawn digits."""

import argparse
import json
from typing import Any

from mlp.config import ConfigError
from mlp.hyperparams import DATASET
from mlp.io import load_model
from mlp.training import to_inputs


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Print test accuracy, per-class accuracy and the confusion matrix."""
    from data import load_dataset

    model = load_model(args.model)
    name = args.dataset or model.meta.get("dataset", "mnist")
    if name not in DATASET.choices:
        raise ValueError(f"the model names dataset {name!r}; pass --dataset {' or '.join(DATASET.choices)}")
    ds = load_dataset(name)
    ev = model.evaluate(to_inputs(ds.x_test, model.dtype), ds.y_test)
    drawn = None
    if args.drawn > 0 and name == "mnist":
        from drawn import evaluate_drawn

        drawn = evaluate_drawn(model, n=args.drawn, seed=0, dataset=ds)
    pen = None
    if args.pen > 0 and name == "mnist":
        from drawn.extras import handwriting_report

        if args.letters < 1:
            raise ConfigError(f"--letters must be 1 or more, got {args.letters}")
        pen = handwriting_report(model, dataset=ds, n_digits=args.pen, n_letters=args.letters)
    if args.json:
        print(json.dumps({"model": str(args.model), "dataset": name, **ev.to_dict(),
                          **({"drawn_digits": drawn} if drawn else {}), **({"pen_digits": pen} if pen else {})}))
        return 0
    print(f"{args.model} on {name} test set ({len(ds.y_test)} images): accuracy {ev.accuracy:.2%}, loss {ev.loss:.4f}")
    if drawn:
        print(f"drawn digits: {drawn['accuracy']:.2%} of {drawn['n']} pen-drawn canvases (seed {drawn['seed']})")
    if pen:
        print(pen_summary(pen))
    print("per-class accuracy:")
    for label, acc in zip(ds.class_names, ev.per_class_accuracy):
        print(f"  {label:>12}  {acc:.2%}")
    print("confusion matrix (rows: true, columns: predicted):")
    k = len(ev.confusion_matrix)
    print("      " + "".join(f"{j:>6}" for j in range(k)))
    for i, row in enumerate(ev.confusion_matrix):
        print(f"{i:>6}" + "".join(f"{c:>6}" for c in row))
    return 0


def pen_summary(pen: dict[str, Any]) -> str:
    """Lines for drawn.extras.handwriting_report: overall, per digit, per style, the unsure rates."""
    doubt = pen["unsure"]
    lines = [f"pen digits in people's styles: {pen['accuracy']:.2%} of {pen['n']}; unsure on "
             f"{doubt['digits_flagged']:.2%} of them and on {doubt['letters_flagged']:.2%} of "
             f"{doubt['n_letters']} capital letters that look like no digit (threshold {doubt['threshold']:.3f})",
             "  per digit: " + " ".join(f"{d}:{a:.1%}" for d, a in enumerate(pen["per_class_accuracy"]))]
    lines += [f"  {style:<16} {r['accuracy']:.2%} of {r['n']}" for style, r in pen["per_style"].items()]
    return "\n".join(lines)
