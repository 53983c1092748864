"""The `python -m mlp` command line: train, evaluate, predict, download."""

import argparse
import json
import math
import signal
import sys
import threading
import time
from pathlib import Path


from .augment import AugmentConfig
from .io import ModelFileError, load_model, save_model
from .preprocess import PREPROCESS_VERSION, load_image, preprocess, to_model_input
from .training import ConfigError, DivergedError, TrainConfig, Trainer, build_model, to_inputs

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default.npz"
DATASET_NAMES = ("mnist", "fashion-mnist")


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


def build_parser():
    """The argument parser for all subcommands."""
    d = TrainConfig()
    p = Parser(prog="python -m mlp", description="Train, evaluate and use Digit Lab's NumPy MLP.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a network and save it as .npz")
    t.add_argument("--dataset", choices=DATASET_NAMES, default="mnist")
    t.add_argument("--hidden", type=positive_int, nargs="+", default=list(d.hidden), metavar="N",
                   help="hidden layer sizes, e.g. --hidden 256 128 (default: %(default)s)")
    t.add_argument("--activation", choices=["relu", "leaky_relu", "tanh", "sigmoid"], default=d.activation)
    t.add_argument("--optimizer", choices=["sgd", "momentum", "nesterov", "adam"], default=d.optimizer)
    t.add_argument("--lr", type=finite_float, default=d.lr, help="learning rate (default: %(default)s)")
    t.add_argument("--momentum", type=finite_float, default=d.momentum, help="for momentum/nesterov")
    t.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    t.add_argument("--epochs", type=positive_int, default=d.epochs)
    t.add_argument("--l2", "--weight-decay", dest="weight_decay", type=finite_float, default=d.weight_decay,
                   help="L2 weight decay on weights (default: %(default)s)")
    t.add_argument("--dropout", type=finite_float, default=d.dropout, help="dropout rate in [0, 1)")
    t.add_argument("--schedule", choices=["constant", "step", "cosine"], default=d.schedule)
    t.add_argument("--step-size", type=positive_int, default=d.step_size, help="epochs per step (step schedule)")
    t.add_argument("--gamma", type=finite_float, default=d.gamma, help="factor per step (step schedule)")
    t.add_argument("--min-lr-fraction", type=finite_float, default=d.min_lr_fraction,
                   help="cosine schedule ends at this fraction of --lr")
    t.add_argument("--val-fraction", type=finite_float, default=d.val_fraction,
                   help="share of the training set held out for validation")
    t.add_argument("--patience", type=int, default=d.patience,
                   help="stop after this many epochs without a better validation loss (0: off)")
    t.add_argument("--subset", type=int, default=None, help="train on only this many samples (default: all)")
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument("--dtype", choices=["float32", "float64"], default=d.dtype)
    a = AugmentConfig()
    aug = t.add_argument_group("augmentation", "random distortions of each training batch (any --aug-* flag turns it on)")
    aug.add_argument("--augment", action="store_true", help="turn augmentation on with the defaults below")
    aug.add_argument("--aug-shift", type=finite_float, metavar="PX", help=f"max shift per axis (default {a.max_shift})")
    aug.add_argument("--aug-rotation", type=finite_float, metavar="DEG", help=f"max rotation (default {a.max_rotation})")
    aug.add_argument("--aug-scale", type=finite_float, nargs=2, metavar=("MIN", "MAX"),
                     help=f"size factor range (default {a.min_scale} {a.max_scale})")
    aug.add_argument("--aug-shear", type=finite_float, metavar="K", help=f"max slant (default {a.max_shear})")
    aug.add_argument("--aug-elastic", type=finite_float, metavar="PX",
                     help=f"elastic distortion strength, 0 = off (default {a.elastic_alpha})")
    aug.add_argument("--aug-elastic-sigma", type=finite_float, metavar="PX",
                     help=f"smoothness of the elastic field (default {a.elastic_sigma})")
    aug.add_argument("--aug-thickness", type=finite_float, metavar="P",
                     help=f"share of images drawn thicker or thinner (default {a.thickness_prob})")
    t.add_argument("--continue-from", type=Path, metavar="MODEL",
                   help="continue training this model (its architecture wins over --hidden/--activation/--dropout)")
    t.add_argument("--out", type=Path, default=Path("model.npz"), help="where to save (default: %(default)s)")
    t.add_argument("--download", action="store_true", help="download the dataset if it is not found")
    t.add_argument("--drawn", type=int, default=0, metavar="N",
                   help="also score N pen-drawn digits through the drawing pipeline and store it (MNIST only)")
    t.add_argument("--json", action="store_true", help="print one JSON object at the end")

    e = sub.add_parser("evaluate", help="test-set accuracy, per-class accuracy, confusion matrix")
    e.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    e.add_argument("--dataset", choices=DATASET_NAMES, help="default: the dataset the model was trained on")
    e.add_argument("--drawn", type=int, default=0, metavar="N",
                   help="also score N pen-drawn digits through the drawing pipeline (MNIST models)")
    e.add_argument("--json", action="store_true")

    r = sub.add_parser("predict", help="read digits from image files")
    r.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    r.add_argument("--json", action="store_true", help="one JSON object per line")
    r.add_argument("images", nargs="+", type=Path, metavar="IMAGE")

    g = sub.add_parser("download", help="download a dataset into data/")
    g.add_argument("--dataset", choices=[*DATASET_NAMES, "all"], default="mnist")
    return p


def main(argv=None):
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, ModelFileError, DivergedError, ValueError, OSError) as e:
        print(f"python -m mlp {args.command}: error: {e}", file=sys.stderr)
        return 1


# -- train --------------------------------------------------------------------------


def augment_from_args(args):
    """AugmentConfig from the --aug-* flags, or None when augmentation is off."""
    given = {
        "max_shift": args.aug_shift, "max_rotation": args.aug_rotation, "max_shear": args.aug_shear,
        "elastic_alpha": args.aug_elastic, "elastic_sigma": args.aug_elastic_sigma,
        "thickness_prob": args.aug_thickness,
    }
    if args.aug_scale is not None:
        given["min_scale"], given["max_scale"] = args.aug_scale
    given = {k: v for k, v in given.items() if v is not None}
    if not (args.augment or given):
        return None
    return AugmentConfig(**given)


def config_from_args(args):
    """TrainConfig from parsed train flags (validated)."""
    return TrainConfig(
        hidden=tuple(args.hidden), activation=args.activation, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, batch_size=args.batch_size, epochs=args.epochs, weight_decay=args.weight_decay,
        dropout=args.dropout, schedule=args.schedule, step_size=args.step_size, gamma=args.gamma,
        min_lr_fraction=args.min_lr_fraction, val_fraction=args.val_fraction, patience=args.patience,
        train_subset=args.subset, seed=args.seed, dtype=args.dtype, augment=augment_from_args(args),
    ).validate()


def cmd_train(args):
    """Train, evaluate on the test set, save; print a summary or one JSON object."""
    from data import load_dataset

    config = config_from_args(args)
    if args.continue_from:
        model = load_model(args.continue_from)
        config.hidden = tuple(model.layer_sizes[1:-1])
        config.activation, config.dropout = model.activation, model.dropout
    else:
        model = build_model(config)
    ds = load_dataset(args.dataset, download=args.download, progress=None if args.json else DownloadBar())
    bar = ProgressBar(config.epochs)
    trainer = Trainer(model, config, ds.x_train, ds.y_train, progress=bar.batch)
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
    ev = model.evaluate(to_inputs(ds.x_test, model.dtype), ds.y_test)
    model.meta.update(
        dataset=args.dataset,
        class_names=list(ds.class_names),
        preprocess_version=PREPROCESS_VERSION,
        training=config.to_dict(),
        outcome=trainer.outcome,
        test_accuracy=ev.accuracy,
        test_loss=ev.loss,
        per_class_accuracy=ev.to_dict()["per_class_accuracy"],
    )
    if args.drawn > 0 and args.dataset == "mnist":
        from drawn import evaluate_drawn

        model.meta["drawn_digits"] = evaluate_drawn(model, n=args.drawn, seed=0, dataset=ds)
    model.meta.pop("created", None)  # a new training result is a new model
    save_model(model, args.out)
    if diverged:
        print(f"python -m mlp train: error: {diverged} Saved the last good epoch ({len(trainer.history)}) "
              f"to {args.out}.", file=sys.stderr)
        return 1
    if args.json:
        drawn = model.meta.get("drawn_digits")
        print(json.dumps({
            "model": str(args.out), "outcome": trainer.outcome, "epochs": len(trainer.history),
            "test_accuracy": ev.accuracy, "test_loss": ev.loss, "config": config.to_dict(),
            "drawn_accuracy": drawn["accuracy"] if drawn else None, "history": trainer.history,
        }))
    else:
        drawn = model.meta.get("drawn_digits")
        extra = f", drawn digits {drawn['accuracy']:.2%} of {drawn['n']}" if drawn else ""
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
    if name not in DATASET_NAMES:
        raise ValueError(f"the model names dataset {name!r}; pass --dataset {' or '.join(DATASET_NAMES)}")
    ds = load_dataset(name)
    ev = model.evaluate(to_inputs(ds.x_test, model.dtype), ds.y_test)
    drawn = None
    if args.drawn > 0 and name == "mnist":
        from drawn import evaluate_drawn

        drawn = evaluate_drawn(model, n=args.drawn, seed=0, dataset=ds)
    if args.json:
        print(json.dumps({"model": str(args.model), "dataset": name, **ev.to_dict(),
                          **({"drawn_digits": drawn} if drawn else {})}))
        return 0
    print(f"{args.model} on {name} test set ({len(ds.y_test)} images): accuracy {ev.accuracy:.2%}, loss {ev.loss:.4f}")
    if drawn:
        print(f"drawn digits: {drawn['accuracy']:.2%} of {drawn['n']} pen-drawn canvases (seed {drawn['seed']})")
    print("per-class accuracy:")
    for label, acc in zip(ds.class_names, ev.per_class_accuracy):
        print(f"  {label:>12}  {acc:.2%}")
    print("confusion matrix (rows: true, columns: predicted):")
    k = len(ev.confusion_matrix)
    print("      " + "".join(f"{j:>6}" for j in range(k)))
    for i, row in enumerate(ev.confusion_matrix):
        print(f"{i:>6}" + "".join(f"{c:>6}" for c in row))
    return 0


# -- predict ------------------------------------------------------------------------


def cmd_predict(args):
    """Preprocess each image like a drawing and print the digit and probabilities."""
    model = load_model(args.model)
    failures = 0
    for path in args.images:
        record = predict_file(model, path)
        failures += "error" in record
        if args.json:
            print(json.dumps(record), flush=True)
        elif "error" in record:
            print(f"{path}: error: {record['error']}", flush=True)
        elif record["digit"] is None:
            print(f"{path}: empty image, no digit", flush=True)
        else:
            probs = " ".join(f"{p:.3f}" for p in record["probabilities"])
            print(f"{path}: {record['digit']} ({max(record['probabilities']):.1%})  [{probs}]", flush=True)
    return 1 if failures else 0


def predict_file(model, path):
    """{'file', 'digit', 'probabilities'} for one image file, or {'file', 'error'}."""
    try:
        x = preprocess(load_image(path))
    except (ValueError, OSError) as e:
        return {"file": str(path), "error": str(e)}
    if x is None:
        return {"file": str(path), "digit": None, "probabilities": None}
    probs = model.predict_proba(to_model_input(x))[0]
    return {"file": str(path), "digit": int(probs.argmax()), "probabilities": [round(float(p), 6) for p in probs]}


# -- download -----------------------------------------------------------------------


def cmd_download(args):
    """Download (and verify) a dataset unless it is already present."""
    from data import download_dataset, find_dataset

    names = DATASET_NAMES if args.dataset == "all" else (args.dataset,)
    for name in names:
        found = find_dataset(name)
        if found is not None:
            print(f"{name}: already present in {found}")
            continue
        path = download_dataset(name, progress=DownloadBar())
        print(f"{name}: downloaded and verified into {path}")
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "download": cmd_download}
