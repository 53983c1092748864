"""Every hyperparameter, declared once: a plain table the config, the CLI and the app read.

In the spirit of scikit-learn's ``_parameter_constraints``: each ``TrainConfig`` and
``AugmentConfig`` field has one ``Param`` here with its type, default, valid range or
choices, label, help, command-line flag, URL name and sidebar widget bounds. The configs
take their defaults and validation from it, ``python -m mlp train`` builds its flags from
it, and the Train page builds its widgets and its URL allow-list from it.

    >>> from mlp.hyperparams import PARAMS, check, parse
    >>> check(PARAMS["dropout"], 1.5)
    'dropout must be in [0, 1), got 1.5'
    >>> parse(PARAMS["hidden"], "256, 128")
    (256, 128)

Adding an activation, optimizer or schedule is one edit: a new entry in ``ACTIVATIONS``
(mlp/activations.py), ``OPTIMIZERS`` or ``SCHEDULES`` (mlp/optimizers.py). The choices
below are those dicts' keys, so the CLI, the sidebar and the URL allow-list follow.

Adding a hyperparameter: one ``Param`` line in ``TRAIN_PARAMS`` (or ``AUGMENT_PARAMS``),
and a field ``name: type = DEFAULTS["name"]`` on the config that uses it, e.g.

    "label_smoothing": Param("label_smoothing", "float", 0.0, low=0, high=1, high_open=True,
                             label="Label smoothing", help="Share of each target spread over the other classes.",
                             cli="--label-smoothing", url="smoothing", ui_low=0.0, ui_high=0.3, ui_step=0.05),

Two kinds of message: ``check`` names the config field ("lr must be a finite number > 0,
got nan"), for code and the command line; ``parse`` names the label ("learning rate must
be a finite number greater than 0, got 'nan'"), for text a person typed or a shared URL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

from data.catalog import DATASETS

from .activations import ACTIVATIONS
from .network import DTYPES
from .optimizers import OPTIMIZERS, SCHEDULES

__all__ = [
    "AUGMENT_PARAMS",
    "DATASET",
    "DEFAULTS",
    "KINDS",
    "MAX_HIDDEN_LAYERS",
    "MAX_HIDDEN_UNITS",
    "PARAMS",
    "TRAIN_PARAMS",
    "Param",
    "by_url",
    "check",
    "parse",
    "requirement",
    "to_text",
    "ui_allowed",
    "ui_default",
]

#: What a hyperparameter holds: a number, a choice's name, a switch, hidden sizes, or None (optional ones).
Value = int | float | str | bool | tuple[int, ...] | None

KINDS = ("int", "float", "choice", "bool", "sizes")
#: What the app accepts for hidden layers (bigger networks are too slow on a shared server).
MAX_HIDDEN_UNITS = 4096
MAX_HIDDEN_LAYERS = 6


@dataclass(frozen=True)
class Param:
    """One hyperparameter.

    name: the config field. kind: one of KINDS. default: the config's default.
    choices: the allowed values (kind "choice"). low/high: the valid range (None: unbounded),
    low_open/high_open: whether that end is excluded. optional: None is also valid.
    unit, note: words for the message ("pixels"; "0 turns early stopping off").
    label, help: for people. section: where the sidebar shows it.
    cli, cli_aliases, metavar: the command-line flag (None: not on the command line).
    url: the name in a shared Train page link (None: the app does not expose it).
    ui_low, ui_high, ui_step: the sidebar widget's bounds; ui_default: the widget's starting
    value where it differs from default; widget: "select", "text", "slider", "number" or
    "toggle"; ui_format: the number format of a "number" widget.
    only_with: (other field, values): the widget is shown only while that field has one of them.
    """

    name: str
    kind: str
    default: object
    label: str
    help: str = ""
    section: str = "Training"
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False
    unit: str = ""
    note: str = ""
    cli: str | None = None
    cli_aliases: tuple[str, ...] = ()
    metavar: str | None = None
    url: str | None = None
    ui_low: float | None = None
    ui_high: float | None = None
    ui_step: float | None = None
    ui_default: object = None
    widget: str | None = None
    ui_format: str | None = None
    only_with: tuple[str, tuple[str, ...]] | None = None

    def __repr__(self) -> str:
        return f"Param({self.name!r}, {self.kind!r}, default={self.default!r})"


#: The dataset a run trains on: not a TrainConfig field, but a choice the CLI and the app share.
DATASET = Param("dataset", "choice", "mnist", "Dataset", choices=tuple(DATASETS), section="Network",
                help="The images to learn from.", cli="--dataset", url="dataset", widget="select")

TRAIN_PARAMS: dict[str, Param] = {p.name: p for p in [
    Param("hidden", "sizes", (256, 128), "Hidden layer sizes", section="Network", low=1,
          help="Units per hidden layer, separated by commas. Empty: no hidden layer.",
          cli="--hidden", metavar="N", url="hidden", ui_high=MAX_HIDDEN_UNITS, widget="text"),
    Param("activation", "choice", "relu", "Activation", choices=tuple(ACTIVATIONS), section="Network",
          help="The function applied after each hidden layer.", cli="--activation", url="activation",
          widget="select"),
    Param("optimizer", "choice", "adam", "Optimizer", choices=tuple(OPTIMIZERS),
          help="How each batch's gradient moves the weights.", cli="--optimizer", url="optimizer", widget="select"),
    Param("lr", "float", 1e-3, "Learning rate", low=0, low_open=True,
          help="For example 0.001 for Adam, 0.05 for SGD.", cli="--lr", url="lr", widget="text"),
    Param("momentum", "float", 0.9, "Momentum", low=0, high=1, high_open=True,
          help="Used by the momentum and Nesterov optimizers.", cli="--momentum", url="momentum",
          ui_low=0.0, ui_high=0.99, ui_step=0.01, widget="slider", only_with=("optimizer", ("momentum", "nesterov"))),
    Param("batch_size", "int", 128, "Batch size", low=1, help="Training images per weight update.",
          cli="--batch-size", url="batch", ui_low=1, ui_high=8192, widget="number"),
    Param("epochs", "int", 10, "Epochs", low=1, help="Passes over the training set.",
          cli="--epochs", url="epochs", ui_low=1, ui_high=200, widget="number"),
    Param("weight_decay", "float", 0.0, "L2 weight decay", low=0, help="L2 weight decay on the weights (not biases).",
          cli="--l2", cli_aliases=("--weight-decay",), url="l2", ui_low=0.0, ui_high=1.0, ui_step=1e-5,
          widget="number", ui_format="%.5f"),
    Param("dropout", "float", 0.0, "Dropout", low=0, high=1, high_open=True, section="Network",
          help="Share of hidden units dropped per batch.", cli="--dropout", url="dropout",
          ui_low=0.0, ui_high=0.8, ui_step=0.05, widget="slider"),
    Param("schedule", "choice", "constant", "Learning-rate schedule", choices=tuple(SCHEDULES),
          help="How the learning rate changes from epoch to epoch.", cli="--schedule", url="schedule", widget="select"),
    Param("step_size", "int", 10, "Step every (epochs)", low=1,
          help="Epochs between learning-rate drops (step schedule).", cli="--step-size", url="step_size",
          ui_low=1, ui_high=100, ui_default=5, widget="number",
          only_with=("schedule", ("step",))),
    Param("gamma", "float", 0.1, "Multiply by", low=0, low_open=True, high=1,
          help="Factor applied to the learning rate at each drop (step schedule).", cli="--gamma", url="gamma",
          ui_low=0.01, ui_high=1.0, ui_step=0.05, ui_default=0.5, widget="number", only_with=("schedule", ("step",))),
    Param("min_lr_fraction", "float", 0.0, "Final learning-rate fraction", low=0, high=1,
          help="The cosine schedule ends at this fraction of the learning rate.", cli="--min-lr-fraction"),
    Param("val_fraction", "float", 0.1, "Validation fraction", low=0, high=1, high_open=True,
          help="Held out from the training set (never the test set) to watch overfitting.",
          cli="--val-fraction", url="val", ui_low=0.0, ui_high=0.5, ui_step=0.05, widget="slider"),
    Param("patience", "int", 0, "Early stopping patience (0 = off)", low=0, note="0 turns early stopping off",
          help="Stop after this many epochs without a better validation loss.",
          cli="--patience", url="patience", ui_low=0, ui_high=50, widget="number"),
    Param("train_subset", "int", None, "Training images", low=1, optional=True, note="or None for all samples",
          help="Train on only this many training images.", cli="--subset", url="subset",
          ui_low=1, ui_high=60000, ui_step=1000, ui_default=10000, widget="number"),
    Param("seed", "int", 0, "Seed", low=0, help="Same seed, same model.", cli="--seed", url="seed",
          ui_low=0, ui_high=2**31 - 1, widget="number"),
    Param("dtype", "choice", "float32", "Float type", choices=tuple(DTYPES),
          help="Precision of weights and arithmetic.", cli="--dtype"),
    Param("augment", "bool", False, "Distort training images", section="Augmentation",
          help="Random shifts, rotations, scaling, slant, elastic warps and stroke width changes, fresh for "
               "every batch: slower epochs, but a model that reads real drawings better.",
          cli="--augment", url="augment", widget="toggle"),
]}

AUGMENT_PARAMS: dict[str, Param] = {p.name: p for p in [
    Param("max_shift", "float", 2.0, "Shift (px)", low=0, high=10, unit="pixels", section="Augmentation",
          help="Largest shift per axis, in pixels.", cli="--aug-shift", metavar="PX", url="aug_shift",
          ui_low=0.0, ui_high=4.0, ui_step=0.5, widget="slider"),
    Param("max_rotation", "float", 12.0, "Rotation (°)", low=0, high=180, unit="degrees", section="Augmentation",
          help="Largest rotation either way, in degrees.", cli="--aug-rotation", metavar="DEG", url="aug_rotation",
          ui_low=0.0, ui_high=30.0, ui_step=1.0, widget="slider"),
    Param("min_scale", "float", 0.85, "Smallest size", low=0.2, high=1, section="Augmentation",
          help="Smallest size factor (1 = unchanged).", cli="--aug-min-scale", metavar="MIN", url="aug_min_scale",
          ui_low=0.6, ui_high=1.0, ui_step=0.05, widget="slider"),
    Param("max_scale", "float", 1.1, "Largest size", low=1, high=3, section="Augmentation",
          help="Largest size factor (1 = unchanged).", cli="--aug-max-scale", metavar="MAX", url="aug_max_scale",
          ui_low=1.0, ui_high=1.4, ui_step=0.05, widget="slider"),
    Param("max_shear", "float", 0.25, "Slant", low=0, high=2, section="Augmentation",
          help="Largest slant either way (horizontal shear x += k * y).", cli="--aug-shear", metavar="K",
          url="aug_shear", ui_low=0.0, ui_high=0.6, ui_step=0.05, widget="slider"),
    # Measured (784-512-256-10, 15 epochs): 0.7 beats 1.2 by ~0.3 points on both
    # MNIST and the drawn-digit set, and 2.0 loses ~1.5 points on both.
    Param("elastic_alpha", "float", 0.7, "Elastic warp (px)", low=0, high=10, unit="pixels", section="Augmentation",
          help="Strength of the elastic distortion (RMS displacement in pixels; 0 = off).", cli="--aug-elastic",
          metavar="PX", url="aug_elastic", ui_low=0.0, ui_high=3.0, ui_step=0.1, widget="slider"),
    Param("elastic_sigma", "float", 4.0, "Elastic smoothness (px)", low=1, high=28, unit="pixels",
          section="Augmentation", help="Smoothness of the elastic field in pixels (Simard et al. use 4).",
          cli="--aug-elastic-sigma", metavar="PX"),
    Param("thickness_prob", "float", 0.3, "Thicker/thinner strokes (share)", low=0, high=1, section="Augmentation",
          help="Share of images drawn with thicker or thinner strokes.", cli="--aug-thickness", metavar="P",
          url="aug_thickness", ui_low=0.0, ui_high=1.0, ui_step=0.05, widget="slider"),
]}

#: Every config field's Param, TrainConfig's first.
PARAMS: dict[str, Param] = {**TRAIN_PARAMS, **AUGMENT_PARAMS}
#: Field name -> default, for the configs' dataclass fields.
#: Any: each field's own type (TrainConfig's and AugmentConfig's annotations say which).
DEFAULTS: dict[str, Any] = {name: p.default for name, p in PARAMS.items()}


def by_url(url: str) -> Param | None:
    """The Param (DATASET included) whose URL name is `url`, or None."""
    return next((p for p in (DATASET, *PARAMS.values()) if p.url == url), None)


# -- checking -----------------------------------------------------------------------------------


def _is_int(v: object) -> TypeGuard[int | np.integer[Any]]:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _is_num(v: object) -> TypeGuard[float | np.integer[Any] | np.floating[Any]]:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _in_range(p: Param, v: float | np.integer[Any] | np.floating[Any]) -> bool | np.bool_:
    if p.low is not None and (v <= p.low if p.low_open else v < p.low):
        return False
    return p.high is None or (v < p.high if p.high_open else v <= p.high)


def _ok(p: Param, value: object) -> bool | np.bool_:
    if p.optional and value is None:
        return True
    if p.kind == "choice":
        return isinstance(value, str) and value in p.choices
    if p.kind == "bool":
        return isinstance(value, bool)
    if p.kind == "sizes":
        return isinstance(value, (list, tuple)) and all(_is_int(h) and _in_range(p, h) for h in value)
    if p.kind == "int":
        return _is_int(value) and _in_range(p, value)
    return _is_num(value) and math.isfinite(value) and _in_range(p, value)


def requirement(param: Param, words: bool = False) -> str:
    """What a valid value is, e.g. 'in [0, 1)' or 'a finite number > 0' ('greater than 0' with words)."""
    p = param
    if p.kind == "choice":
        if len(p.choices) == 2:
            return f"{p.choices[0]!r} or {p.choices[1]!r}"
        return f"one of {sorted(p.choices)}"
    if p.kind == "bool":
        return "true or false"
    gt, ge = ("greater than", "at least") if words else (">", ">=")
    if p.high is not None and p.low is not None:
        text = (f"in {'(' if p.low_open else '['}{p.low:g}, {p.high:g}{')' if p.high_open else ']'}"
                + (f" {p.unit}" if p.unit else ""))
    elif p.kind in ("int", "sizes") and p.low is not None and (p.low == 1 or (p.low == 0 and p.low_open)):
        text = "a positive integer"
    elif p.kind in ("int", "sizes"):
        text = f"an integer {gt if p.low_open else ge} {p.low:g}"
    else:
        text = f"a finite number {gt if p.low_open else ge} {p.low:g}"
    return f"{text} ({p.note})" if p.note else text


def check(param: Param, value: object) -> str | None:
    """None if `value` is valid for `param`, else the message naming the field and the value."""
    if _ok(param, value):
        return None
    if param.kind == "sizes":
        shown = list(value) if isinstance(value, (list, tuple)) else value
        return f"{param.name} sizes must be positive integers, got {shown}"
    return f"{param.name} must be {requirement(param)}, got {value!r}"


# -- text: URLs, text boxes -----------------------------------------------------------------------

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def parse(param: Param, text: object) -> Value:
    """The value `text` stands for (from a URL or a text box); raises ValueError naming the label.

    "sizes" reads "256, 128" or "256 128" (empty: no hidden layer); an optional field reads ""
    or "none" as None. The value is checked against the valid range.
    """
    text = str(text).strip()
    what = param.label[0].lower() + param.label[1:]
    if param.kind == "sizes":
        return _parse_sizes(text)
    if param.optional and text.lower() in ("", "none"):
        return None
    if param.kind == "choice":
        if text not in param.choices:
            raise ValueError(f"{what} must be one of {', '.join(param.choices)}, got {text!r}")
        return text
    if param.kind == "bool":
        if text.lower() not in _TRUE + _FALSE:
            raise ValueError(f"{what} must be true or false, got {text!r}")
        return text.lower() in _TRUE
    try:
        value = int(text) if param.kind == "int" else float(text)
    except ValueError:
        example = "a whole number" if param.kind == "int" else f"a number such as {param.default:g}"
        raise ValueError(f"{what} must be {example}, got {text!r}") from None
    if not _ok(param, value):
        raise ValueError(f"{what} must be {requirement(param, words=True)}, got {text!r}")
    return value


def _parse_sizes(text: str) -> tuple[int, ...]:
    """'256, 128' -> (256, 128); raises ValueError naming the bad part. Empty text: no hidden layer."""
    sizes: list[int] = []
    for part in text.replace(",", " ").split():
        try:
            n = int(part)
        except ValueError:
            raise ValueError(f"hidden layer sizes must be whole numbers, got {part!r}") from None
        if n <= 0:
            raise ValueError(f"hidden layer sizes must be positive, got {n}")
        if n > MAX_HIDDEN_UNITS:
            raise ValueError(f"hidden layers of more than {MAX_HIDDEN_UNITS} units are too slow here, got {n}")
        sizes.append(n)
    if len(sizes) > MAX_HIDDEN_LAYERS:
        raise ValueError(f"at most {MAX_HIDDEN_LAYERS} hidden layers, got {len(sizes)}")
    return tuple(sizes)


def to_text(param: Param, value: Any) -> str:
    """`value` as text that `parse` reads back: '256, 128', 'true', '0.001', '' for None."""
    if value is None:
        return ""
    if param.kind == "sizes":
        return ", ".join(str(int(n)) for n in value)
    if param.kind == "bool":
        return "true" if value else "false"
    return str(value)


# -- the app's widgets ----------------------------------------------------------------------------


def ui_allowed(param: Param) -> list[str] | list[bool] | tuple[float, float] | None:
    """What a shared URL may set `param` to: a list of choices, a (low, high) range, or None.

    None: free text the page parses (hidden sizes, learning rate), or a field the app does not expose.
    """
    if param.url is None:
        return None
    if param.kind == "choice":
        return list(param.choices)
    if param.kind == "bool":
        return [False, True]
    if param.ui_low is not None and param.ui_high is not None:
        return (param.ui_low, param.ui_high)
    return None


def ui_default(param: Param) -> object:
    """The widget's starting value: ui_default where the app starts elsewhere than the config."""
    return param.default if param.ui_default is None else param.ui_default
