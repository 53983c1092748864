"""webapp.views.train_settings: the Train sidebar's widgets, their keys and URL names, which show when,
and the config they build (no Streamlit, no MNIST)."""

import dataclasses

import pytest

from mlp import TrainConfig
from mlp import hyperparams as hp
from webapp.session import keys
from webapp.views import train_settings

OLD_URL_NAMES = {
    "dataset", "hidden", "activation", "dropout", "optimizer", "lr", "momentum", "schedule", "step_size", "gamma",
    "batch", "epochs", "l2", "val", "subset", "patience", "seed", "augment", "aug_shift", "aug_rotation",
    "aug_min_scale", "aug_max_scale", "aug_shear", "aug_elastic", "aug_thickness", "use_subset",
}


def initial_values(**changes):
    """{widget key: value} as the sidebar first shows it, with `changes` ({url name: value}) applied."""
    values = {f.key: f.default for f in train_settings.url_fields()}
    for url, value in changes.items():
        values[keys.TRAIN_PREFIX + url] = value
    return values


def test_initial_values_build_the_default_config_except_the_apps_own_defaults():
    settings = train_settings.build(initial_values())
    assert settings.problems == {}
    assert settings.dataset == "mnist"
    differs = {p.name: p.ui_default for p in train_settings.widget_params()
               if p.ui_default is not None and p.name != "train_subset"}  # the subset is off by default
    assert differs == {"step_size": 5, "gamma": 0.5}
    assert settings.config == dataclasses.replace(TrainConfig(), **differs)
    assert settings.config.train_subset is None and settings.config.augment is None


def test_initial_text_boxes_hold_text_and_other_widgets_values():
    assert train_settings.initial(hp.PARAMS["hidden"]) == "256, 128"
    assert train_settings.initial(hp.PARAMS["lr"]) == "0.001"
    assert train_settings.initial(hp.PARAMS["batch_size"]) == 128
    assert train_settings.initial(hp.PARAMS["train_subset"]) == 10000  # the widget's start, shown once toggled on


def test_bad_hidden_text_is_a_problem_under_hidden():
    settings = train_settings.build(initial_values(hidden="256, -3"))
    assert settings.problems == {"hidden": "hidden layer sizes must be positive, got -3"}
    assert settings.config.hidden == TrainConfig().hidden  # falls back, so the config is still whole


def test_shown_values_reach_the_config():
    values = initial_values(hidden="64 32", lr="0.05", optimizer="momentum", momentum=0.8, batch=64,
                            schedule="step", step_size=3, gamma=0.2, augment=True, aug_rotation=20.0)
    values[train_settings.USE_SUBSET] = True
    values[train_settings.key(hp.PARAMS["train_subset"])] = 3000
    config = train_settings.build(values).config
    assert (config.hidden, config.lr, config.optimizer, config.momentum, config.batch_size) == (
        (64, 32), 0.05, "momentum", 0.8, 64)
    assert (config.schedule, config.step_size, config.gamma, config.train_subset) == ("step", 3, 0.2, 3000)
    assert config.augment is not None and config.augment.max_rotation == 20.0


def test_hidden_values_do_not_reach_the_config():
    values = initial_values(optimizer="adam", momentum=0.5, schedule="constant", step_size=7)
    values[train_settings.key(hp.PARAMS["train_subset"])] = 3000  # toggle off
    config = train_settings.build(values).config
    assert config.momentum == hp.ui_default(hp.PARAMS["momentum"])
    assert config.step_size == 5
    assert config.train_subset is None


def test_batch_larger_than_the_dataset_is_a_problem_only_with_its_size():
    values = initial_values(batch=512)
    values[train_settings.USE_SUBSET] = True
    values[train_settings.key(hp.PARAMS["train_subset"])] = 100
    assert "batch_size" not in train_settings.build(values).problems
    assert "batch_size" in train_settings.build(values, n_samples=60000).problems


@pytest.mark.parametrize("url, text", [
    ("batch", "0"), ("batch", "8193"), ("batch", "-5"), ("batch", "1.5"), ("epochs", "201"),
    ("momentum", "0.995"),  # valid for the config, but beyond the slider
    ("dropout", "0.9"), ("seed", "-1"), ("subset", "60001"), ("subset", "none"), ("subset", ""),
    ("optimizer", "rm -rf"), ("activation", "ReLU"), ("schedule", ""), ("dataset", "imagenet"),
    ("augment", "maybe"), ("lr", "x" * 201), ("hidden", "1" * 201), ("aug_min_scale", "0.5"),
])
def test_url_parser_refuses_what_the_sidebar_cannot_show(url, text):
    with pytest.raises(ValueError):
        train_settings.url_parser(hp.by_url(url))(text)


@pytest.mark.parametrize("url, text, value", [
    ("batch", "64", 64), ("batch", "1", 1), ("batch", "8192", 8192), ("momentum", "0.8", 0.8),
    ("optimizer", "nesterov", "nesterov"), ("dataset", "fashion-mnist", "fashion-mnist"),
    ("augment", "true", True), ("augment", "false", False), ("subset", "3000", 3000),
    ("hidden", "256, -3", "256, -3"),  # a text box shows what the link says; the sidebar explains it
    ("lr", "x" * 200, "x" * 200), ("aug_rotation", "30", 30.0),
])
def test_url_parser_accepts_what_the_sidebar_shows(url, text, value):
    parsed = train_settings.url_parser(hp.by_url(url))(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("url, raw", [
    ("epochs", "-5"), ("batch", "999999"), ("dropout", "7"), ("optimizer", "rocket<script>"), ("seed", "-1"),
    ("lr", "y" * 300), ("augment", "maybe-so"), ("batch", "1.5"), ("subset", "none"),
])
def test_url_parser_says_what_the_widget_takes_without_repeating_the_text(url, raw):
    with pytest.raises(ValueError) as refused:
        train_settings.url_parser(hp.by_url(url))(raw)
    message = str(refused.value)
    assert raw not in message and "got" not in message
    assert message.split()[0].lower() == hp.by_url(url).label.split()[0].lower()


def test_use_subset_reads_true_or_false_from_a_link():
    field = next(f for f in train_settings.url_fields() if f.param == "use_subset")
    assert field.key == train_settings.USE_SUBSET and field.default is False
    assert field.parse("true") is True and field.parse("false") is False
    with pytest.raises(ValueError):
        field.parse("maybe")


def test_widget_keys_are_unique_and_prefixed():
    widget_keys = [f.key for f in train_settings.url_fields()]
    assert len(widget_keys) == len(set(widget_keys)) == len(OLD_URL_NAMES)
    assert all(k.startswith("t_") for k in widget_keys)
    assert [train_settings.key(p) for p in train_settings.widget_params()] == widget_keys[:-1]


def test_url_names_are_those_old_links_used():
    params = [f.param for f in train_settings.url_fields()]
    assert len(params) == len(set(params))
    assert set(params) == OLD_URL_NAMES


def test_url_fields_write_text_that_their_parser_reads_back():
    for f in train_settings.url_fields():
        assert f.parse(f.to_text(f.default)) == f.default, f.key


def test_dataset_comes_first_and_sections_in_order():
    params = train_settings.widget_params()
    assert params[0] is hp.DATASET
    order = [train_settings.SECTIONS.index(p.section) for p in params]
    assert order == sorted(order)


@pytest.mark.parametrize("optimizer", list(hp.PARAMS["optimizer"].choices))
def test_momentum_shows_only_for_momentum_optimizers(optimizer):
    shown = train_settings.visible(hp.PARAMS["momentum"], initial_values(optimizer=optimizer))
    assert shown == (optimizer in ("momentum", "nesterov"))


@pytest.mark.parametrize("schedule", list(hp.PARAMS["schedule"].choices))
def test_step_settings_show_only_for_the_step_schedule(schedule):
    values = initial_values(schedule=schedule)
    for name in ("step_size", "gamma"):
        assert train_settings.visible(hp.PARAMS[name], values) == (schedule == "step")


def test_subset_shows_only_with_its_toggle():
    values = initial_values()
    assert not train_settings.visible(hp.PARAMS["train_subset"], values)
    values[train_settings.USE_SUBSET] = True
    assert train_settings.visible(hp.PARAMS["train_subset"], values)


def test_augmentation_sliders_show_only_with_augment_on():
    shown = [p for p in train_settings.widget_params() if p.name in hp.AUGMENT_PARAMS]
    assert len(shown) == 7
    assert not any(train_settings.visible(p, initial_values()) for p in shown)
    assert all(train_settings.visible(p, initial_values(augment=True)) for p in shown)
    assert train_settings.visible(hp.PARAMS["augment"], initial_values())  # the toggle itself


def test_other_settings_always_show():
    for name in ("hidden", "lr", "batch_size", "epochs", "seed", "val_fraction"):
        assert train_settings.visible(hp.PARAMS[name], {})
