"""`train`: a network from the hyperparameter flags (or continued from a file), scored and saved."""

import argparse
import hashlib
import json
import signal
import sys
import threading
from pathlib import Path

from mlp.augment import AugmentConfig
from mlp.config import ConfigError, DivergedError, TrainConfig
from mlp.distil import MAX_TEACHERS, TEACHER_WEIGHT, Teachers
from mlp.hyperparams import AUGMENT_PARAMS, TRAIN_PARAMS
from mlp.io import load_model, save_model
from mlp.meta import continue_config, score_on_test_set, stamp_outcome, stamp_test_scores, stamp_training
from mlp.network import MLP
from mlp.training import Trainer, build_model, rows_used

from .args import program_name
from .progress import DownloadBar, ProgressBar


def augment_from_args(args: argparse.Namespace) -> AugmentConfig | None:
    """AugmentConfig from the --aug-* flags, or None when augmentation is off."""
    given = {name: getattr(args, name) for name, param in AUGMENT_PARAMS.items() if param.cli}
    if args.aug_scale is not None:
        given["min_scale"], given["max_scale"] = args.aug_scale
    given = {k: v for k, v in given.items() if v is not None}
    if not (args.augment or given):
        return None
    return AugmentConfig(**given)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig from parsed train flags (validated)."""
    values = {name: getattr(args, name) for name, param in TRAIN_PARAMS.items() if param.cli and name != "augment"}
    values["hidden"] = tuple(values["hidden"])
    return TrainConfig(**values, augment=augment_from_args(args)).validate()


def load_teachers(args: argparse.Namespace, student: MLP) -> Teachers | None:
    """The --teacher models (checked against the student and --dataset), or None without any."""
    if not args.teacher:
        if args.teacher_weight is not None:
            raise ConfigError("--teacher-weight needs --teacher: there is no teacher to weigh")
        return None
    if len(args.teacher) > MAX_TEACHERS:
        raise ConfigError(f"at most {MAX_TEACHERS} teachers, got {len(args.teacher)}")
    models = []
    for path in args.teacher:
        teacher = load_model(path)
        if teacher.meta.get("dataset", args.dataset) != args.dataset:
            raise ConfigError(f"teacher {path} was trained on {teacher.meta['dataset']}, not {args.dataset}")
        models.append(teacher)
    weight = TEACHER_WEIGHT if args.teacher_weight is None else args.teacher_weight
    return Teachers(models, weight, names=[f"teacher {path}" for path in args.teacher]).check(student)


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def cmd_train(args: argparse.Namespace) -> int:
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
    teachers = load_teachers(args, model)
    ds = load_dataset(args.dataset, download=args.download, progress=None if args.json else DownloadBar())
    stamp_training(model, config, ds)
    train_rows, val_rows = rows_used(config, len(ds.x_train))
    extra = None
    if args.styles or args.writers or args.negatives:
        from drawn.extras import training_extras

        extra = training_extras(ds, train_rows, styles=args.styles, writers=args.writers, negatives=args.negatives,
                                seed=config.seed)
        model.meta["training"].update(styles=args.styles, writers=args.writers, negatives=args.negatives)
    if teachers is not None:
        # Plain text of at most schema.MAX_TEXT characters, as every training setting outside the table.
        model.meta["training"].update(teachers=", ".join(f"sha256 {file_digest(path)[:12]}" for path in args.teacher),
                                      teacher_weight=teachers.weight)
    bar = ProgressBar(config.epochs)
    trainer = Trainer(model, config, ds.x_train, ds.y_train, progress=bar.batch, extra=extra, teachers=teachers)
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
    assert trainer.outcome is not None  # set when its run ends, by a divergence too
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
        scores = f", drawn digits {drawn['accuracy']:.2%} of {drawn['n']}" if drawn else ""
        if args.pen:
            pen, doubt = model.meta["pen_digits"], model.meta["unsure"]["measured"]
            scores += (f", pen digits {pen['accuracy']:.2%} (zeros {pen['per_class_accuracy'][0]:.2%}), unsure on "
                      f"{doubt['digits_flagged']:.2%} of digits and {doubt['letters_flagged']:.2%} of letters")
        print(f"{trainer.outcome}: {len(trainer.history)} epochs, test accuracy {ev.accuracy:.2%} "
              f"(loss {ev.loss:.4f}){scores}; saved {args.out}")
    return 0
