"""The parser of every subcommand, and the entry point of `python -m mlp` and `digit-lab`."""

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mlp.config import ConfigError, DivergedError
from mlp.distil import MAX_TEACHERS, TEACHER_WEIGHT
from mlp.hyperparams import AUGMENT_PARAMS, DATASET, DEFAULTS, TRAIN_PARAMS
from mlp.io import ModelFileError

from .adapt import add_adapt_parser, cmd_adapt
from .args import DEFAULT_MODEL, Parser, add_flag, finite_float, program_name
from .download import cmd_download
from .evaluate import cmd_evaluate
from .images import cmd_explain, cmd_predict
from .train import cmd_train


def build_parser() -> Parser:
    """The argument parser for all subcommands."""
    p = Parser(prog=program_name(), description="Train, evaluate and use Digit Lab's NumPy MLP.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a network and save it as .npz")
    add_flag(t, DATASET, default=DATASET.default)
    for param in TRAIN_PARAMS.values():
        if param.cli and param.name != "augment":
            add_flag(t, param, default=param.default)
    aug = t.add_argument_group("augmentation",
                               "random distortions of each training batch (any --aug-* flag turns it on)")
    augment = TRAIN_PARAMS["augment"].cli
    assert augment is not None
    aug.add_argument(augment, action="store_true",
                     help="turn augmentation on with the defaults below")
    for param in AUGMENT_PARAMS.values():
        if param.cli:
            add_flag(aug, param, default=None)  # None: not given, so the AugmentConfig default applies
    aug.add_argument("--aug-scale", type=finite_float, nargs=2, metavar=("MIN", "MAX"),
                     help=f"--aug-min-scale and --aug-max-scale at once. Default: {DEFAULTS['min_scale']} "
                          f"{DEFAULTS['max_scale']}.")
    t.add_argument("--continue-from", type=Path, metavar="MODEL",
                   help="continue training this model (its architecture wins over --hidden/--activation/--dropout)")
    d = t.add_argument_group("distillation", "learn from other networks' readings as well as the labels (mlp.distil)")
    d.add_argument("--teacher", type=Path, nargs="+", action="extend", default=[], metavar="MODEL",
                   help="model files whose averaged reading of each training input is mixed into its target "
                        f"(up to {MAX_TEACHERS}; each read by its network alone, without dropout or memory)")
    d.add_argument("--teacher-weight", type=finite_float, metavar="W",
                   help=f"the share of each target the teachers' reading makes, in (0, 1] (default: {TEACHER_WEIGHT})")
    t.add_argument("--out", type=Path, default=Path("model.npz"), help="where to save (default: %(default)s)")
    t.add_argument("--download", action="store_true", help="download the dataset if it is not found")
    t.add_argument("--drawn", type=int, default=0, metavar="N",
                   help="also score N pen-drawn digits through the drawing pipeline and store it (MNIST only)")
    hw = t.add_argument_group("handwriting", "generated pen drawings (MNIST only; see drawn.extras)")
    hw.add_argument("--styles", type=int, default=0, metavar="N",
                    help="also train on N pen drawings of training digits in the styles people write "
                         "(slashed zeros, flagged ones, crossed sevens...)")
    hw.add_argument("--writers", type=int, default=0, metavar="N",
                    help="also train on N pen drawings of training digits by simulated writers, each with "
                         "habits of their own (slant, size, pen)")
    hw.add_argument("--negatives", type=int, default=0, metavar="N",
                    help="also train on N drawings that are no digit (letters, scribbles, shapes) toward an "
                         "even reading, then calibrate when to say 'not sure' on validation digits")
    hw.add_argument("--calibration", type=int, default=3000, metavar="N",
                    help="pen drawings of validation digits the 'not sure' threshold is calibrated on "
                         "(default: %(default)s)")
    hw.add_argument("--pen", type=int, default=0, metavar="N",
                    help="score N held-out pen digits per style and the held-out letters, and store it")
    hw.add_argument("--letters", type=int, default=2000, metavar="N",
                    help="held-out capital letters --pen measures 'not sure' on (default: %(default)s)")
    t.add_argument("--json", action="store_true", help="print one JSON object at the end")

    e = sub.add_parser("evaluate", help="test-set accuracy, per-class accuracy, confusion matrix")
    e.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    e.add_argument("--dataset", choices=DATASET.choices, help="default: the dataset the model was trained on")
    e.add_argument("--drawn", type=int, default=0, metavar="N",
                   help="also score N pen-drawn digits through the drawing pipeline (MNIST models)")
    e.add_argument("--pen", type=int, default=0, metavar="N",
                   help="also score N held-out pen digits per style, and how often it says 'not sure' (MNIST models)")
    e.add_argument("--letters", type=int, default=2000, metavar="N",
                   help="held-out capital letters --pen measures 'not sure' on (default: %(default)s)")
    e.add_argument("--json", action="store_true")

    r = sub.add_parser("predict", help="read digits from image files")
    r.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    r.add_argument("--json", action="store_true", help="one JSON object per line")
    r.add_argument("images", nargs="+", type=Path, metavar="IMAGE")

    x = sub.add_parser("explain", help="what the network sees in image files: activations and saliency")
    x.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    x.add_argument("--json", action="store_true",
                   help="one JSON object per line: input, hidden activations and saliency as numbers")
    x.add_argument("images", nargs="+", type=Path, metavar="IMAGE")

    add_adapt_parser(sub)

    g = sub.add_parser("download", help="download a dataset into data/")
    g.add_argument("--dataset", choices=[*DATASET.choices, "all"], default=DATASET.default)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, ModelFileError, DivergedError, ValueError, OSError) as e:
        print(f"{program_name()} {args.command}: error: {e}", file=sys.stderr)
        return 1


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "explain": cmd_explain, "adapt": cmd_adapt,
    "download": cmd_download}
