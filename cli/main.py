"""The `python -m mlp` command line (installed as `digit-lab`): train, evaluate, predict, explain, adapt, download."""

import argparse
import json
import math
import signal
import sys
import threading
import time
from pathlib import Path

from .augment import AugmentConfig
from .explain import saliency, trace
from .hyperparams import AUGMENT_PARAMS, DATASET, DEFAULTS, TRAIN_PARAMS, requirement
from .io import ModelFileError, load_model, save_model
from .meta import continue_config, score_on_test_set, stamp_outcome, stamp_test_scores, stamp_training
from .preprocess import load_image, preprocess, to_model_input
from .training import ConfigError, DivergedError, TrainConfig, Trainer, build_model, rows_used, to_inputs
from .unsure import judge, threshold_of

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default.npz"


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line, not usage plus a line."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text):
    """argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def finite_float(text):
    """argparse type: a finite number (rejects nan and inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_flag(parser, param, default):
    """The command-line flag of one hyperparameter (a mlp.hyperparams.Param): type, choices and help from the table."""
    kwargs = {"dest": param.name, "default": default}
    about = param.help
    if param.kind == "choice":
        kwargs["choices"] = param.choices
    elif param.kind == "sizes":
        about = f"{param.label}, e.g. {param.cli} 512 256."
        kwargs.update(type=positive_int, nargs="+", default=list(default), metavar=param.metavar or "N")
    elif param.kind == "bool":
        kwargs = {"dest": param.name, "action": "store_true"}
    else:
        # Ints that may be None are checked by the config, whose message says so.
        positive = param.kind == "int" and param.low == 1 and not param.optional
        kwargs.update(type=positive_int if positive else int if param.kind == "int" else finite_float,
                      metavar=param.metavar or param.cli.lstrip("-").upper().replace("-", "_"))
        about += f" Valid: {requirement(param)}."
    if param.kind != "bool" and param.default is not None:
        about += f" Default: {param.default if param.kind != 'sizes' else ' '.join(map(str, param.default))}."
    parser.add_argument(param.cli, *param.cli_aliases, help=about.replace("%", "%%"), **kwargs)


def program_name():
    """How the user called us, for messages: "digit-lab" (the installed command) or "python -m mlp"."""
    return "digit-lab" if Path(sys.argv[0]).name == "digit-lab" else "python -m mlp"


def build_parser():
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
    aug.add_argument(TRAIN_PARAMS["augment"].cli, action="store_true",
                     help="turn augmentation on with the defaults below")
    for param in AUGMENT_PARAMS.values():
        if param.cli:
            add_flag(aug, param, default=None)  # None: not given, so the AugmentConfig default applies
    aug.add_argument("--aug-scale", type=finite_float, nargs=2, metavar=("MIN", "MAX"),
                     help=f"--aug-min-scale and --aug-max-scale at once. Default: {DEFAULTS['min_scale']} "
                          f"{DEFAULTS['max_scale']}.")
    t.add_argument("--continue-from", type=Path, metavar="MODEL",
                   help="continue training this model (its architecture wins over --hidden/--activation/--dropout)")
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


def main(argv=None):
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, ModelFileError, DivergedError, ValueError, OSError) as e:
        print(f"{program_name()} {args.command}: error: {e}", file=sys.stderr)
        return 1


# -- train --------------------------------------------------------------------------


def augment_from_args(args):
    """AugmentConfig from the --aug-* flags, or None when augmentation is off."""
    given = {name: getattr(args, name) for name, param in AUGMENT_PARAMS.items() if param.cli}
    if args.aug_scale is not None:
        given["min_scale"], given["max_scale"] = args.aug_scale
    given = {k: v for k, v in given.items() if v is not None}
    if not (args.augment or given):
        return None
    return AugmentConfig(**given)


def config_from_args(args):
    """TrainConfig from parsed train flags (validated)."""
    values = {name: getattr(args, name) for name, param in TRAIN_PARAMS.items() if param.cli and name != "augment"}
    values["hidden"] = tuple(values["hidden"])
    return TrainConfig(**values, augment=augment_from_args(args)).validate()


def cmd_train(args):
    """Train, evaluate on the test set, save; print a summary or one JSON object."""
    from data import load_dataset

    config = config_from_args(args)
    if args.continue_from:
        loaded = load_model(args.continue_from)
        config = continue_config(loaded, settings=config)
        # Dropout masks follow --seed, as in a fresh model and in the app's worker.
        model = loaded.with_seed(config.seed)
    else:
        model = build_model(config)
    handwriting = args.styles or args.writers or args.negatives or args.pen
    for flag in ("styles", "writers", "negatives", "pen", "calibration", "letters"):
        if getattr(args, flag) < (1 if flag in ("calibration", "letters") else 0):
            least = "1 or more" if flag in ("calibration", "letters") else "0 or more"
            raise ConfigError(f"--{flag} must be {least}, got {getattr(args, flag)}")
    if handwriting and args.dataset != "mnist":
        raise ConfigError("--styles, --writers, --negatives and --pen need --dataset mnist (the drawings are digits)")
    if args.negatives and not config.val_fraction:
        raise ConfigError("--negatives needs --val-fraction > 0: the 'not sure' threshold is calibrated there")
    ds = load_dataset(args.dataset, download=args.download, progress=None if args.json else DownloadBar())
    stamp_training(model, config, ds)
    train_rows, val_rows = rows_used(config, len(ds.x_train))
    extra = None
    if args.styles or args.writers or args.negatives:
        from drawn.extras import training_extras

        extra = training_extras(ds, train_rows, styles=args.styles, writers=args.writers, negatives=args.negatives,
                                seed=config.seed)
        model.meta["training"].update(styles=args.styles, writers=args.writers, negatives=args.negatives)
    bar = ProgressBar(config.epochs)
    trainer = Trainer(model, config, ds.x_train, ds.y_train, progress=bar.batch, extra=extra)
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    diverged = None
    try:
        for record in trainer.run(stop):
            bar.epoch(record)
    except DivergedError as e:
        diverged = e
    finally:
        signal.signal(signal.SIGINT, previous)
        bar.close()
    if not trainer.history:
        if diverged:
            raise DivergedError(f"{diverged} Nothing was saved: no epoch finished.")
        raise ConfigError("stopped before the first epoch finished; nothing saved")
    stamp_outcome(model, trainer.outcome)
    ev = score_on_test_set(model, ds.x_test, ds.y_test)
    if args.drawn > 0 and args.dataset == "mnist":
        from drawn import evaluate_drawn

        stamp_test_scores(model, ev, drawn=evaluate_drawn(model, n=args.drawn, seed=0, dataset=ds))
    if args.negatives:
        from drawn.extras import calibrate_unsure

        calibrate_unsure(model, ds, val_rows, seed=config.seed, n=args.calibration)
    if args.pen:
        from drawn.extras import handwriting_report

        report = handwriting_report(model, dataset=ds, n_digits=args.pen, n_letters=args.letters)
        model.meta["pen_digits"] = {k: v for k, v in report.items() if k != "unsure"}
        model.meta.setdefault("unsure", {}).update(measured=report["unsure"])
    save_model(model, args.out)
    if diverged:
        print(f"{program_name()} train: error: {diverged} Saved the last good epoch ({len(trainer.history)}) "
              f"to {args.out}.", file=sys.stderr)
        return 1
    if args.json:
        drawn = model.meta.get("drawn_digits")
        print(json.dumps({
            "model": str(args.out), "outcome": trainer.outcome, "epochs": len(trainer.history),
            "test_accuracy": ev.accuracy, "test_loss": ev.loss, "config": config.to_dict(),
            "drawn_accuracy": drawn["accuracy"] if drawn else None, "history": trainer.history,
            "pen_digits": model.meta.get("pen_digits"), "unsure": model.meta.get("unsure"),
        }))
    else:
        drawn = model.meta.get("drawn_digits")
        extra = f", drawn digits {drawn['accuracy']:.2%} of {drawn['n']}" if drawn else ""
        if args.pen:
            pen, doubt = model.meta["pen_digits"], model.meta["unsure"]["measured"]
            extra += (f", pen digits {pen['accuracy']:.2%} (zeros {pen['per_class_accuracy'][0]:.2%}), unsure on "
                      f"{doubt['digits_flagged']:.2%} of digits and {doubt['letters_flagged']:.2%} of letters")
        print(f"{trainer.outcome}: {len(trainer.history)} epochs, test accuracy {ev.accuracy:.2%} "
              f"(loss {ev.loss:.4f}){extra}; saved {args.out}")
    return 0


class ProgressBar:
    """A one-line progress bar on stderr: epoch, batch bar, last metrics, ETA."""

    def __init__(self, epochs, stream=sys.stderr, width=30):
        self.epochs, self.stream, self.width = epochs, stream, width
        self.done_epochs, self.started = 0, time.perf_counter()
        self.last = ""
        self.tty = stream.isatty()

    def batch(self, done, total):
        """Called by the trainer a few times per epoch."""
        if not self.tty:
            return
        frac = (self.done_epochs + done / total) / self.epochs
        filled = int(self.width * frac)
        elapsed = time.perf_counter() - self.started
        eta = elapsed / frac * (1 - frac) if frac > 0 else 0
        line = (f"\repoch {self.done_epochs + 1}/{self.epochs} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{frac:4.0%}  eta {eta:4.0f}s  {self.last}")
        self.stream.write(line.ljust(100)[:120])
        self.stream.flush()

    def epoch(self, record):
        """Called after each epoch with its EpochRecord."""
        self.done_epochs += 1
        val = f"  val_acc {record.val_accuracy:.4f}" if record.val_accuracy is not None else ""
        self.last = f"loss {record.train_loss:.4f}  acc {record.train_accuracy:.4f}{val}"
        if not self.tty:
            self.stream.write(f"epoch {record.epoch}/{self.epochs}  {self.last}  {record.seconds:.2f}s\n")
            self.stream.flush()

    def close(self):
        """End the bar's line."""
        if self.tty:
            self.stream.write("\n")


class DownloadBar:
    """A progress callback for dataset downloads, writing to stderr."""

    def __call__(self, filename, done, total):
        if total:
            sys.stderr.write(f"\r{filename}: {done / 1e6:6.1f} / {total / 1e6:.1f} MB")
        else:
            sys.stderr.write(f"\r{filename}: {done / 1e6:6.1f} MB")
        if total and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


# -- evaluate -------------------------------------------------------------------


def cmd_evaluate(args):
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


def pen_summary(pen):
    """Lines for drawn.extras.handwriting_report: overall, per digit, per style, the unsure rates."""
    doubt = pen["unsure"]
    lines = [f"pen digits in people's styles: {pen['accuracy']:.2%} of {pen['n']}; unsure on "
             f"{doubt['digits_flagged']:.2%} of them and on {doubt['letters_flagged']:.2%} of "
             f"{doubt['n_letters']} capital letters that look like no digit (threshold {doubt['threshold']:.3f})",
             "  per digit: " + " ".join(f"{d}:{a:.1%}" for d, a in enumerate(pen["per_class_accuracy"]))]
    lines += [f"  {style:<16} {r['accuracy']:.2%} of {r['n']}" for style, r in pen["per_style"].items()]
    return "\n".join(lines)


# -- predict ------------------------------------------------------------------------


def cmd_predict(args):
    """Preprocess each image like a drawing and print the digit and probabilities."""

    def summary(path, record):
        probs = " ".join(f"{p:.3f}" for p in record["probabilities"])
        doubt = f"  {record['doubt']}" if record["doubt"] else ""
        return f"{path}: {record['digit']} ({max(record['probabilities']):.1%})  [{probs}]{doubt}"

    return for_each_image(args, predict_file, summary)


def for_each_image(args, record_of, summary):
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


def predict_file(model, path):
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


def class_names(model):
    """The model's class names (its dataset's), or the digits."""
    return model.meta.get("class_names") or [str(d) for d in range(model.layer_sizes[-1])]


def noun_of(model):
    """What one class is called in messages: "digit" for MNIST models, else "class"."""
    return "digit" if model.meta.get("dataset", "mnist") == "mnist" else "class"


# -- explain ------------------------------------------------------------------------


def cmd_explain(args):
    """For each image: the digit, the input the network saw, its hidden activations and the saliency map."""
    return for_each_image(args, explain_file, explain_summary)


def explain_file(model, path):
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


def significant(values, digits=6):
    """A 1-D array as a list of floats rounded to `digits` significant digits (saliency can be 1e-9 small)."""
    return [float(f"{v:.{digits}g}") for v in values.tolist()]


def explain_summary(path, record):
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


# -- download -----------------------------------------------------------------------


def cmd_download(args):
    """Download (and verify) a dataset unless it is already present."""
    from data import download_dataset, find_dataset

    names = DATASET.choices if args.dataset == "all" else (args.dataset,)
    for name in names:
        found = find_dataset(name)
        if found is not None:
            print(f"{name}: already present in {found}")
            continue
        path = download_dataset(name, progress=DownloadBar())
        print(f"{name}: downloaded and verified into {path}")
    return 0


# -- adapt --------------------------------------------------------------------------


def add_adapt_parser(sub):
    """The adapt subcommand: teach a model someone's handwriting (mlp.adapt)."""
    a = sub.add_parser("adapt", help="fine-tune a copy of a model on labelled drawings (your handwriting)")
    a.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    a.add_argument("--labels", type=Path, required=True, metavar="LABELS.json",
                   help='a JSON object mapping each image\'s file name to its digit, e.g. {"a.png": 7}')
    a.add_argument("--out", type=Path, required=True, help="where to save the taught model")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.add_argument("images", nargs="+", type=Path, metavar="IMAGE",
                   help="canvas drawings, preprocessed as on Draw")


def cmd_adapt(args):
    """Teach a copy of --model the labelled drawings, replaying MNIST; save it to --out. Errors: status 2."""
    from data import load_dataset

    from . import adapt

    try:
        labels = adapt.read_labels(args.labels)
        images, digits, empty = adapt.read_drawings(args.images, labels)
        model = load_model(args.model)
        ds = load_dataset("mnist")
        replay, check = adapt.replay_and_check(model, ds.x_train, ds.y_train)
        result = adapt.adapt(model, images, digits, replay=replay, check=check, test=(ds.x_test, ds.y_test),
                             seed=args.seed)
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
                          "skipped": empty}))
        return 0
    for name in empty:
        print(f"{name}: empty drawing, skipped", file=sys.stderr)

    def pct(value, places=1):
        return "n/a" if value is None else f"{value:.{places}%}"

    print(f"taught {result.n_drawings} drawings in {result.seconds:.1f} s; held-out drawings ({result.n_holdout}): "
          f"{pct(result.holdout_before)} -> {pct(result.holdout_after)}; MNIST test {pct(result.mnist_before, 2)} -> "
          f"{pct(result.mnist_after, 2)}; saved {args.out}")
    if result.n_check:
        print(f"kept {result.blend:.0%} of what teaching changed: its {result.n_check} validation digits "
              f"{pct(result.check_before, 2)} -> {pct(result.check_after, 2)}")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "explain": cmd_explain,
            "adapt": cmd_adapt, "download": cmd_download}
