"""The hyperparameter table (mlp.hyperparams) and what derives from it. No MNIST needed."""

import dataclasses
import math

import pytest

from cli import build_parser
from data import DATASETS
from mlp import TrainConfig
from mlp.activations import ACTIVATIONS
from mlp.augment import AugmentConfig
from mlp.hyperparams import (
    AUGMENT_PARAMS,
    DATASET,
    KINDS,
    PARAMS,
    TRAIN_PARAMS,
    by_url,
    check,
    parse,
    to_text,
    ui_allowed,
    ui_default,
)
from mlp.network import DTYPES
from mlp.optimizers import OPTIMIZERS, SCHEDULES

ALL = [DATASET, *PARAMS.values()]
# The URL names the app has always used: shared links keep working.
URL_NAMES = {
    "dataset": "dataset", "hidden": "hidden", "activation": "activation", "dropout": "dropout",
    "optimizer": "optimizer", "lr": "lr", "momentum": "momentum", "schedule": "schedule",
    "step_size": "step_size", "gamma": "gamma", "batch_size": "batch", "epochs": "epochs", "weight_decay": "l2",
    "val_fraction": "val", "train_subset": "subset", "patience": "patience", "seed": "seed", "augment": "augment",
    "max_shift": "aug_shift", "max_rotation": "aug_rotation", "min_scale": "aug_min_scale",
    "max_scale": "aug_max_scale", "max_shear": "aug_shear", "elastic_alpha": "aug_elastic",
    "thickness_prob": "aug_thickness",
}


def test_the_table_covers_every_config_field_in_order():
    assert list(TRAIN_PARAMS) == [f.name for f in dataclasses.fields(TrainConfig)]
    assert list(AUGMENT_PARAMS) == [f.name for f in dataclasses.fields(AugmentConfig)]
    assert all(name == p.name for name, p in PARAMS.items())


def test_the_configs_take_their_defaults_from_the_table():
    config, augment = TrainConfig(), AugmentConfig()
    for name, p in TRAIN_PARAMS.items():
        if name != "augment":  # an on/off switch in the table, an AugmentConfig or None in the config
            assert getattr(config, name) == p.default, name
    assert config.augment is None and TRAIN_PARAMS["augment"].default is False
    for name, p in AUGMENT_PARAMS.items():
        assert getattr(augment, name) == p.default, name


@pytest.mark.parametrize("param", ALL, ids=lambda p: p.name)
def test_every_default_passes_its_own_check(param):
    assert param.kind in KINDS
    assert check(param, param.default) is None
    assert param.label and param.help


def test_choice_lists_are_the_lookup_tables_keys():
    assert TRAIN_PARAMS["activation"].choices == tuple(ACTIVATIONS)
    assert TRAIN_PARAMS["optimizer"].choices == tuple(OPTIMIZERS)
    assert TRAIN_PARAMS["schedule"].choices == tuple(SCHEDULES)
    assert TRAIN_PARAMS["dtype"].choices == tuple(DTYPES)
    assert DATASET.choices == tuple(DATASETS) == ("mnist", "fashion-mnist")


def test_url_names_are_the_ones_shared_links_use():
    assert {p.name: p.url for p in ALL if p.url} == URL_NAMES
    for p in ALL:
        assert p.url is None or by_url(p.url) is p
    assert by_url("no-such-thing") is None
    # Not in the app: no URL name, no widget.
    for name in ("dtype", "min_lr_fraction", "elastic_sigma"):
        assert PARAMS[name].url is None and ui_allowed(PARAMS[name]) is None


@pytest.mark.parametrize("param", [p for p in ALL if p.ui_low is not None], ids=lambda p: p.name)
def test_widget_bounds_lie_inside_the_valid_range(param):
    assert param.ui_low < param.ui_high
    assert check(param, param.ui_low) is None and check(param, param.ui_high) is None
    if param.ui_step is not None:
        assert 0 < param.ui_step <= param.ui_high - param.ui_low
    start = ui_default(param)
    assert param.ui_low <= start <= param.ui_high and check(param, start) is None


def test_the_sidebar_ranges_of_today():
    ranges = {p.url: (p.ui_low, p.ui_high, p.ui_step) for p in PARAMS.values() if p.ui_low is not None}
    assert ranges == {
        "dropout": (0.0, 0.8, 0.05), "momentum": (0.0, 0.99, 0.01), "step_size": (1, 100, None),
        "gamma": (0.01, 1.0, 0.05), "batch": (1, 8192, None), "epochs": (1, 200, None), "l2": (0.0, 1.0, 1e-5),
        "val": (0.0, 0.5, 0.05), "subset": (1, 60000, 1000), "patience": (0, 50, None), "seed": (0, 2**31 - 1, None),
        "aug_shift": (0.0, 4.0, 0.5), "aug_rotation": (0.0, 30.0, 1.0), "aug_min_scale": (0.6, 1.0, 0.05),
        "aug_max_scale": (1.0, 1.4, 0.05), "aug_shear": (0.0, 0.6, 0.05), "aug_elastic": (0.0, 3.0, 0.1),
        "aug_thickness": (0.0, 1.0, 0.05),
    }


def test_ui_allowed_is_the_url_allow_list():
    assert ui_allowed(DATASET) == ["mnist", "fashion-mnist"]
    assert ui_allowed(PARAMS["activation"]) == list(ACTIVATIONS)
    assert ui_allowed(PARAMS["dropout"]) == (0.0, 0.8)
    assert ui_allowed(PARAMS["augment"]) == [False, True]
    assert ui_allowed(PARAMS["hidden"]) is None and ui_allowed(PARAMS["lr"]) is None  # free text, parsed


def test_every_flag_in_the_table_exists_on_the_command_line():
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    flags = {s for action in train._actions for s in action.option_strings}
    for p in ALL:
        if p.cli:
            assert {p.cli, *p.cli_aliases} <= flags, p.name
    args = train.parse_args([])
    for name, p in TRAIN_PARAMS.items():
        if name != "augment":
            assert getattr(args, name) == (list(p.default) if p.kind == "sizes" else p.default), name
    act = next(a for a in train._actions if "--activation" in a.option_strings)
    assert tuple(act.choices) == tuple(ACTIVATIONS)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("dropout", 1.5, "dropout must be in [0, 1), got 1.5"),
        ("gamma", 0, "gamma must be in (0, 1], got 0"),
        ("lr", math.nan, "lr must be a finite number > 0, got nan"),
        ("weight_decay", -1.0, "weight_decay must be a finite number >= 0, got -1.0"),
        ("batch_size", 0, "batch_size must be a positive integer, got 0"),
        ("batch_size", 2.0, "batch_size must be a positive integer, got 2.0"),
        ("batch_size", True, "batch_size must be a positive integer, got True"),
        ("patience", -1, "patience must be an integer >= 0 (0 turns early stopping off), got -1"),
        ("train_subset", 0, "train_subset must be a positive integer (or None for all samples), got 0"),
        ("dtype", "float16", "dtype must be 'float32' or 'float64', got 'float16'"),
        ("activation", "swish", "activation must be one of ['leaky_relu', 'relu', 'sigmoid', 'tanh'], got 'swish'"),
        ("hidden", (256, -3), "hidden sizes must be positive integers, got [256, -3]"),
        ("max_shift", 50.0, "max_shift must be in [0, 10] pixels, got 50.0"),
        ("max_rotation", -5, "max_rotation must be in [0, 180] degrees, got -5"),
        ("thickness_prob", math.inf, "thickness_prob must be in [0, 1], got inf"),
    ],
)
def test_check_names_the_field_and_the_value(name, value, message):
    assert check(PARAMS[name], value) == message


def test_check_accepts_what_the_configs_accept():
    assert check(PARAMS["train_subset"], None) is None
    assert check(PARAMS["hidden"], ()) is None  # no hidden layer
    assert check(PARAMS["lr"], 1) is None  # an int is a number
    assert check(PARAMS["seed"], 2**40) is None


@pytest.mark.parametrize(
    "name, text, value",
    [
        ("hidden", "256, 128", (256, 128)), ("hidden", "64 32", (64, 32)), ("hidden", "", ()),
        ("lr", "1e-3", 0.001), ("epochs", "12", 12), ("dropout", "0.25", 0.25), ("optimizer", "sgd", "sgd"),
        ("augment", "true", True), ("augment", "False", False), ("train_subset", "", None),
        ("train_subset", "5000", 5000),
    ],
)
def test_parse_reads_text(name, text, value):
    assert parse(PARAMS[name], text) == value
    assert parse(PARAMS[name], to_text(PARAMS[name], value)) == value


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("hidden", "256, -3", "hidden layer sizes must be positive, got -3"),
        ("hidden", "256, abc", "hidden layer sizes must be whole numbers, got 'abc'"),
        ("hidden", "5000", "hidden layers of more than 4096 units are too slow here, got 5000"),
        ("hidden", "1 1 1 1 1 1 1", "at most 6 hidden layers, got 7"),
        ("lr", "nan", "learning rate must be a finite number greater than 0, got 'nan'"),
        ("lr", "inf", "learning rate must be a finite number greater than 0, got 'inf'"),
        ("lr", "0", "learning rate must be a finite number greater than 0, got '0'"),
        ("lr", "fast", "learning rate must be a number such as 0.001, got 'fast'"),
        ("epochs", "ten", "epochs must be a whole number, got 'ten'"),
        ("dropout", "1", "dropout must be in [0, 1), got '1'"),
        ("optimizer", "rmsprop", "optimizer must be one of sgd, momentum, nesterov, adam, got 'rmsprop'"),
        ("augment", "maybe", "distort training images must be true or false, got 'maybe'"),
    ],
)
def test_parse_explains_bad_text(name, text, message):
    with pytest.raises(ValueError) as e:
        parse(PARAMS[name], text)
    assert str(e.value) == message

