"""`adapt`: teach a copy of a model someone's handwriting from labelled canvas files (mlp.adapt)."""

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from mlp.io import load_model, save_model

from .args import DEFAULT_MODEL, Parser, program_name


def add_adapt_parser(sub: "argparse._SubParsersAction[Parser]") -> None:
    """The adapt subcommand: teach a model someone's handwriting (mlp.adapt)."""
    a = sub.add_parser("adapt", help="fine-tune a copy of a model on labelled drawings (your handwriting)")
    a.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    a.add_argument("--labels", type=Path, required=True, metavar="LABELS.json",
                   help='a JSON object mapping each image\'s file name to its digit, e.g. {"a.png": 7}')
    a.add_argument("--out", type=Path, required=True, help="where to save the taught model")
    a.add_argument("--seed", type=int, default=0)
    # None: mlp.adapt.AdaptConfig's default (not imported here: the command line starts without it)
    a.add_argument("--memory", action=argparse.BooleanOptionalAction,
                   help="keep a memory of the drawings in the model file, which readings close to one lean on "
                        "(default: as the app teaches, mlp.adapt.AdaptConfig)")
    a.add_argument("--fine-tune", action=argparse.BooleanOptionalAction,
                   help="train the weights on the drawings; --no-fine-tune leaves them as they are and keeps the "
                        "memory only (default: as the app teaches)")
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                   help="canvas drawings, preprocessed as on Draw")


def cmd_adapt(args: argparse.Namespace) -> int:
    """Teach a copy of --model the labelled drawings, replaying MNIST; save it to --out. Errors: status 2."""
    from data import load_dataset
    from mlp import adapt

    try:
        chosen = {k: v for k, v in (("memory", args.memory), ("fine_tune", args.fine_tune)) if v is not None}
        config = replace(adapt.AdaptConfig(), **chosen).validate()
        labels = adapt.read_labels(args.labels)
        images, digits, empty = adapt.read_drawings(args.images, labels)
        model = load_model(args.model)
        ds = load_dataset("mnist")
        replay, check = adapt.replay_and_check(model, ds.x_train, ds.y_train)
        result = adapt.adapt(model, images, digits, replay=replay, check=check, test=(ds.x_test, ds.y_test),
                             seed=args.seed, config=config)
        assert result.model is not None  # no stop event: teaching runs to the end
        result.model.meta["adapted"]["skipped"] = empty  # file names, not indices: these never reached adapt
        save_model(result.model, args.out)
    except (ValueError, OSError) as e:  # AdaptError, ModelFileError, DatasetNotFound, DivergedError
        print(f"{program_name()} adapt: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"model": str(args.out), "seconds": result.seconds, "n_drawings": result.n_drawings,
                          "holdout": {"n": result.n_holdout, "before": result.holdout_before,
                                      "after": result.holdout_after},
                          "mnist_test_accuracy": result.mnist_after, "mnist_test_accuracy_before": result.mnist_before,
                          "blend": result.blend,
                          "check": {"n": result.n_check, "before": result.check_before, "after": result.check_after},
                          "memory": result.memory, "skipped": empty}))
        return 0
    for name in empty:
        print(f"{name}: empty drawing, skipped", file=sys.stderr)

    def pct(value: float | None, places: int = 1) -> str:
        return "n/a" if value is None else f"{value:.{places}%}"

    print(f"taught {result.n_drawings} drawings in {result.seconds:.1f} s; held-out drawings ({result.n_holdout}): "
          f"{pct(result.holdout_before)} -> {pct(result.holdout_after)}; MNIST test {pct(result.mnist_before, 2)} -> "
          f"{pct(result.mnist_after, 2)}; saved {args.out}")
    if result.memory is not None:
        m = result.memory
        print(f"memory: {m['count']} exemplars of {m['drawings']} drawings, gate {m['gate']} (check digits read "
              f"{pct(result.check_before, 2)} -> {pct(result.check_after, 2)} with it)")
    if result.n_check:
        print(f"kept {result.blend:.0%} of what teaching changed: its {result.n_check} validation digits "
              f"{pct(result.check_before, 2)} -> {pct(result.check_after, 2)}")
    return 0
