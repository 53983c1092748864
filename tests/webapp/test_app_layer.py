"""The app layer's pure pieces (webapp/): no Streamlit server, no MNIST."""

import dataclasses

import numpy as np
import pytest

from mlp import TrainConfig
from mlp import hyperparams as hp
from webapp.session import keys
from webapp.views import charts, display, fields, images, train_settings
from webapp.views.mistakes import ANY, mistakes, page_of

# -- train_settings --------------------------------------------------------------------------------

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


# -- urlstate parsers ------------------------------------------------------------------------------


def test_choice_accepts_the_text_of_an_option_and_returns_the_option():
    parse = fields.choice([1, 2, "sgd"])
    assert parse("1") == 1 and type(parse("1")) is int
    assert parse("sgd") == "sgd"
    for bad in ("3", "SGD", "", " 1"):
        with pytest.raises(ValueError):
            parse(bad)


def test_int_in_accepts_whole_numbers_in_range():
    parse = fields.int_in(0, 9)
    assert parse("0") == 0 and parse("9") == 9
    for bad in ("-1", "10", "x", "1.5", ""):
        with pytest.raises(ValueError):
            parse(bad)
    unbounded = fields.int_in(1)
    assert unbounded("1000000") == 1000000
    with pytest.raises(ValueError):
        unbounded("0")


# -- display ---------------------------------------------------------------------------------------


def test_settings_rows_use_the_train_pages_labels():
    rows = dict(display.settings_rows({"lr": 0.01, "batch_size": 64, "hidden": [256, 128], "train_subset": None,
                                       "augment": {"max_rotation": 20.0, "max_shift": 2.0}}))
    assert rows["Learning rate"] == "0.01"
    assert rows["Batch size"] == "64"
    assert rows["Hidden layer sizes"] == "256, 128"
    assert rows["Training images"] == "—"
    assert rows["Augmentation: rotation (°)"] == "20.0"
    assert rows["Augmentation: shift (px)"] == "2.0"
    assert not {"lr", "batch_size", "hidden", "augment", "max_rotation"} & set(rows)


def test_settings_rows_keep_order_and_name_unknown_keys():
    rows = display.settings_rows({"hidden": [], "some_new_key": 3, "augment": None, "lr": 0.1})
    assert rows == [("Hidden layer sizes", "none"), ("Some new key", "3"), ("Learning rate", "0.1"),
                    ("Augmentation", "off")]


# -- mistakes --------------------------------------------------------------------------------------


def test_mistakes_filter_with_any_and_classes():
    labels = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array([
        [0.9, 0.05, 0.05],  # right
        [0.2, 0.7, 0.1],  # 0 read as 1, 0.7
        [0.6, 0.3, 0.1],  # 1 read as 0, 0.6
        [0.1, 0.1, 0.8],  # 1 read as 2, 0.8
        [0.05, 0.9, 0.05],  # 2 read as 1, 0.9
        [0.1, 0.1, 0.8],  # right
    ])
    assert mistakes(probs, labels).tolist() == [4, 3, 1, 2]
    assert mistakes(probs, labels, ANY, ANY).tolist() == mistakes(probs, labels, None, None).tolist()
    assert mistakes(probs, labels, order="unsure").tolist() == [2, 1, 3, 4]
    assert mistakes(probs, labels, true=0).tolist() == [1]  # class 0 is a filter, not "any"
    assert mistakes(probs, labels, predicted=0).tolist() == [2]
    assert mistakes(probs, labels, true=1, predicted=ANY).tolist() == [3, 2]
    assert mistakes(probs, labels, true=1, predicted=2).tolist() == [3]
    assert mistakes(probs, labels, true=2, predicted=2).tolist() == []


def test_pictures_are_described_for_screen_readers():
    assert display.test_image_alt(123, "4", "9") == "test image 123: a 4 read as 9"
    assert display.test_image_alt(7, "8") == "test image 7: an 8"
    assert display.article("Ankle boot") == "an" and display.article("T-shirt/top") == "a"
    assert display.compared_image_alt(5, "2", "3", "2") == \
        "test image 5: a 2, read as 3 by model A and as 2 by model B"
    assert display.weight_tiles_alt(64).startswith("First-layer weights: 64 hidden units as 28×28 tiles")
    assert display.weight_tiles_alt(32, epoch=3).startswith("First-layer weights after epoch 3: 32 hidden units")
    assert "1,024 hidden units" in display.unit_grid_alt(1, 312, 1024) and "312 of them" in \
        display.unit_grid_alt(1, 312, 1024)
    assert display.drawing_alt(False) == "An empty 28×28 input: nothing drawn yet"
    assert "the link's drawing" in display.drawing_alt(True, linked=True)


def test_page_of_clamps_the_page():
    items = list(range(50))
    assert page_of(items, 1, 24) == (items[:24], 1, 3)
    assert page_of(items, 3, 24) == (items[48:], 3, 3)
    assert page_of(items, 9, 24) == (items[48:], 3, 3)
    assert page_of(items, 0, 24) == (items[:24], 1, 3)
    assert page_of([], 1, 24) == ([], 1, 1)


# -- charts ----------------------------------------------------------------------------------------


def records(chart):
    """The rows of a chart's only inline dataset."""
    datasets = chart.to_dict()["datasets"]
    assert len(datasets) == 1
    return next(iter(datasets.values()))


CM = np.array([[50, 0, 3], [1, 40, 0], [0, 7, 60]])


def test_confusion_heatmap_fades_nothing_without_a_selection():
    rows = records(charts.confusion_heatmap(CM))
    assert len(rows) == 9
    assert not any(r["faded"] for r in rows)


def test_confusion_heatmap_keeps_only_the_selected_cell():
    cm = np.arange(100).reshape(10, 10)
    rows = records(charts.confusion_heatmap(cm, selected=(4, 9)))
    kept = [(r["true"], r["predicted"]) for r in rows if not r["faded"]]
    assert kept == [(4, 9)]
    spec = charts.confusion_heatmap(cm, selected=(4, 9)).to_dict()
    opacity = spec["layer"][0]["encoding"]["opacity"]
    assert opacity["condition"]["test"] == "datum.faded" and opacity["condition"]["value"] < 1


def test_confusion_heatmap_zero_cells_are_transparent_and_blank():
    rows = records(charts.confusion_heatmap(CM, labels=["a", "b", "c"]))
    zero = [r for r in rows if r["count"] == 0]
    assert len(zero) == 3
    assert all(r["fill"] == "transparent" and r["text"] == "" for r in zero)
    nonzero = [r for r in rows if r["count"] > 0]
    assert all(r["fill"] != "transparent" and r["text"] == str(r["count"]) for r in nonzero)
    assert {r["true_label"] for r in rows} == {"a", "b", "c"}


def test_chart_text_on_a_coloured_cell_is_black_or_white_at_aa_contrast():
    rng = np.random.default_rng(0)
    for colour in ["#%02x%02x%02x" % tuple(c) for c in rng.integers(0, 256, (2000, 3))]:
        assert charts.contrast(charts.ink(colour), colour) >= 4.5, colour
    assert charts.contrast("#ffffff", "#000000") == pytest.approx(21)
    assert charts.ink("#ffffff") == "#000000" and charts.ink("#000000") == "#ffffff"


def test_confusion_heatmap_counts_read_on_their_cells_and_on_faded_ones():
    cm = np.arange(100).reshape(10, 10) * 7
    rows = records(charts.confusion_heatmap(cm, selected=(4, 9)))
    for r in rows:
        if r["faded"] or r["fill"] == "transparent":
            assert r["ink"] == charts.PAGE_TEXT  # mostly the page shows through: the theme's text colour
        else:
            assert charts.contrast(r["ink"], r["fill"]) >= 4.5, r


def test_difference_heatmap_colours_cells_by_who_did_better_and_writes_counts_that_read():
    diff = np.array([[5, -3, 0], [2, -8, 0], [0, 0, 1]])
    rows = {(r["true"], r["predicted"]): r for r in records(charts.difference_heatmap(diff))}
    assert rows[(0, 0)]["fill"] != "transparent" and rows[(0, 2)]["fill"] == "transparent"
    worse = rows[(1, 1)]["fill"]  # the diagonal lost 8: B did worse, red
    assert int(worse[1:3], 16) > int(worse[3:5], 16)
    better = rows[(0, 1)]["fill"]  # 3 fewer mistakes off the diagonal: B did better, green
    assert int(better[3:5], 16) > int(better[1:3], 16)
    for r in rows.values():
        if r["fill"] != "transparent":
            assert charts.contrast(r["ink"], r["fill"]) >= 4.5, r


def test_probability_bars_mark_the_true_class():
    probs = [0.1, 0.6, 0.3]
    plain = charts.probability_bars(probs)
    assert "layer" not in plain
    assert [r["best"] for r in plain["datasets"]["probs"]] == [False, True, False]
    marked = charts.probability_bars(probs, labels=["x", "y", "z"], true_class=2)
    assert len(marked["layer"]) == 3
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in marked["layer"]]
    assert marks[0] == "bar" and {"text", "rule"} <= set(marks[1:])
    mark_rows = [rows for name, rows in marked["datasets"].items() if len(rows) == 1]
    assert mark_rows and all(rows[0]["class"] == "z" for rows in mark_rows)


def test_history_chart_starts_at_epoch_one_without_a_legend():
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e} for e in (1, 2, 3)]
    spec = charts.history_chart(history, "loss").to_dict()
    assert spec["encoding"]["x"]["scale"]["domain"] == [1, 3]
    assert spec["encoding"]["color"]["legend"] is None
    one = charts.history_chart(history[:1], "loss").to_dict()
    assert one["encoding"]["x"]["scale"]["domain"][0] == 1
    assert len(records(charts.history_chart(history, "loss"))) == 6


@pytest.mark.parametrize("metric", ["loss", "accuracy"])
@pytest.mark.parametrize("epochs", [1, 3])
def test_history_spec_is_the_history_chart_with_its_rows_named(metric, epochs):
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e if e > 1 else None, "train_accuracy": 0.5 + e / 10}
               for e in range(1, epochs + 1)]
    chart = charts.history_chart(history, metric).to_dict()
    spec = charts.history_spec(history, metric)
    assert spec["data"] == {"name": "history"}
    assert spec["datasets"]["history"] == chart["datasets"][chart["data"]["name"]]
    assert {k: v for k, v in spec.items() if k not in ("data", "datasets")} == \
        {k: v for k, v in chart.items() if k not in ("data", "datasets")}
    assert spec["encoding"]["x"]["scale"]["domain"] == [1, max(2, epochs)]


def test_arrow_datasets_turn_row_lists_into_arrow_tables_and_leave_the_spec_alone():
    spec = charts.probability_bars([0.1, 0.7, 0.2])
    sent = charts.arrow_datasets(spec)
    assert sent["datasets"]["probs"].to_pylist() == spec["datasets"]["probs"]
    assert isinstance(spec["datasets"]["probs"], list)  # the caller's spec is unchanged
    assert {k: v for k, v in sent.items() if k != "datasets"} == {k: v for k, v in spec.items() if k != "datasets"}


def test_weight_histogram_draws_touching_bars():
    w = np.random.default_rng(0).normal(size=(784, 32))
    spec = charts.weight_histogram(w, "layer 1").to_dict()
    assert spec["mark"]["type"] == "bar"
    assert "x2" in spec["encoding"]
    assert spec["encoding"]["y2"] == {"datum": 0}  # bars stand on zero (without it they were drawn as dots)
    rows = records(charts.weight_histogram(w, "layer 1", bins=40))
    assert len(rows) == 40 and sum(r["count"] for r in rows) == w.size


# -- images ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(28, 28), (12, 20, 3), (96, 96, 4)])
def test_png_data_url_holds_the_exact_pixels(shape):
    import base64
    import io

    from PIL import Image

    pixels = np.random.default_rng(2).integers(0, 256, size=shape, dtype=np.uint8)
    url = images.png_data_url(pixels)
    assert url.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert np.array_equal(decoded, pixels)


def test_enlarge_repeats_each_pixel_with_a_faint_grid():
    x = np.linspace(0, 1, 28 * 28).reshape(28, 28)
    big = images.enlarge(x, scale=4)
    assert big.shape == (112, 112) and big.dtype == np.uint8
    assert big[1, 1] == big[3, 3] == int(x[0, 0] * 255)  # inside a block: the pixel itself
    assert big[0, 2] == max(int(x[0, 0] * 255), 40)  # the grid line: at least faint grey
    assert np.array_equal(images.enlarge(x, scale=4, grid=False)[1::4, 1::4], (x * 255).astype(np.uint8))


def test_weight_grid_is_rgba_with_transparent_gaps():
    w = np.random.default_rng(1).normal(size=(784, 20))
    scale, pad, columns = 2, 3, 8
    grid = images.weight_grid(w, range(20), columns=columns, scale=scale, pad=pad)
    tile = 28 * scale
    assert grid.dtype == np.uint8
    assert grid.shape == (3 * (tile + pad) + pad, columns * (tile + pad) + pad, 4)
    alpha = grid[..., 3]
    assert (alpha[:pad] == 0).all() and (alpha[:, :pad] == 0).all()  # the outer gaps
    assert (alpha[pad + tile:2 * pad + tile] == 0).all()  # between the first two rows
    assert (alpha[pad:pad + tile, pad:pad + tile] == 255).all()  # the first tile is opaque
    last_row = slice(pad + 2 * (tile + pad), pad + 2 * (tile + pad) + tile)
    assert (alpha[last_row, pad + 4 * (tile + pad):] == 0).all()  # no tile after unit 19
    assert (alpha == 255).sum() == 20 * tile * tile


# -- page runs take turns (webapp.session.resources.turn) ---------------------------------------------


def _until(predicate, seconds=120):
    """Wait (briefly sleeping) until predicate() is true; fail after `seconds` (a hang guard, not a speed target)."""
    import time

    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def _run(turns, name, log, wait=10, hold=None):
    """A page run: take the turn, note how long it waited for it, hold it until `hold` is set (if given)."""
    import threading
    import time

    def body():
        asked = time.monotonic()
        with turns.turn(wait):
            log.append((name, time.monotonic() - asked))
            if hold is not None:
                hold.wait(120)

    t = threading.Thread(target=body, daemon=True)  # a test that fails leaves no thread holding up the run
    t.start()
    return t


def test_page_runs_take_turns_in_the_order_they_came():
    import threading

    from webapp.session import resources

    turns, log, gate = resources.Turns(), [], threading.Event()
    threads = [_run(turns, "first", log, hold=gate)]
    _until(lambda: turns.waiting() == 1)
    for i in range(6):  # they queue behind the first, in this order
        threads.append(_run(turns, f"run {i}", log))
        _until(lambda n=i + 2: turns.waiting() == n)
    assert [name for name, _ in log] == ["first"]  # all six wait for the first ...
    gate.set()
    for t in threads:
        t.join(120)
    assert [name for name, _ in log] == ["first"] + [f"run {i}" for i in range(6)]  # ... and go in order
    assert turns.waiting() == 0


def test_a_slow_run_holds_the_next_one_up_for_the_wait_and_the_rest_not_at_all():
    import threading

    from webapp.session import resources

    turns, log, slow_done = resources.Turns(), [], threading.Event()
    slow = _run(turns, "slow", log, wait=0.3, hold=slow_done)
    _until(lambda: turns.waiting() == 1)
    # No clock in the checks below: a run that had to wait for the slow one would wait 600 s, and
    # the slow one holds its turn until the end of the test.
    _run(turns, "quick 0", log, wait=0.3).join(120)
    assert dict(log)["quick 0"] >= 0.3  # the first waits its TURN_WAIT, then takes the turn over ...
    for i in (1, 2):  # ... so the quick runs after it need not wait, while the slow one goes on
        quick = _run(turns, f"quick {i}", log, wait=600)
        quick.join(120)
        assert not quick.is_alive() and f"quick {i}" in dict(log)
    assert not slow_done.is_set() and slow.is_alive()
    slow_done.set()
    slow.join(120)
    assert turns.waiting() == 0
    after = _run(turns, "after", log, wait=600)
    after.join(120)
    assert not after.is_alive() and "after" in dict(log)  # the slow one's end left the turn free


def test_a_page_run_that_reruns_gives_its_turn_back():
    from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException

    from webapp.session import resources

    turns = resources.Turns()
    for exc in (RerunException(None), StopException()):  # what st.rerun(), st.switch_page() and st.stop() raise
        with pytest.raises(type(exc)):
            with turns.turn(1):
                raise exc
        assert turns.waiting() == 0


def test_weight_thumbnail_is_a_small_png_of_the_first_units():
    import base64
    import io

    from PIL import Image

    w = np.random.default_rng(3).normal(size=(784, 300)).astype(np.float32)
    w[0, 0], w[1, 1] = np.nan, np.inf  # drawn as 0, never an error
    url = images.weight_thumbnail(w)
    assert url.startswith("data:image/png;base64,") and len(url) < 8000  # a few KB in a summary row
    picture = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert picture.mode == "P" and picture.size == (4 * 29 + 1, 2 * 29 + 1)  # 8 tiles of 28 px, 1 px apart
    few = Image.open(io.BytesIO(base64.b64decode(images.weight_thumbnail(w[:, :3]).split(",", 1)[1])))
    assert few.size == (4 * 29 + 1, 29 + 1)


# -- the gallery's cards and leaderboard -------------------------------------------------------------


def gallery_row(**fields):
    row = {"id": "abc", "name": "Ada", "architecture": "784-32-10 relu", "epochs": 3, "test_accuracy": 0.9731,
           "drawn_accuracy": None, "training": {"optimizer": "adam", "lr": 0.001, "batch_size": 128},
           "shared": "2026-03-04T05:06:07", "class_code": None, "thumbnail": images.weight_thumbnail(np.ones((784, 8)))}
    return {**row, **fields}


def test_cards_say_dash_for_what_is_missing_never_none():
    from webapp.views import gallery

    card, bare = gallery.cards([gallery_row(), gallery_row(
        id="def", name=None, architecture=None, epochs=None, test_accuracy=None, training=None, shared=None,
        thumbnail=None)])
    assert (card.rank, card.model_id, card.name, card.test_accuracy, card.drawn_accuracy, card.added) == (
        1, "abc", "Ada", "97.31%", "—", "2026-03-04")
    assert card.details == "784-32-10 relu · 3 epochs · adam, lr 0.001, batch 128" and card.picture is not None
    assert (bare.rank, bare.name, bare.test_accuracy, bare.details, bare.added, bare.picture) == (
        2, "—", "—", "— · — · —", "—", None)
    assert "None" not in repr(bare._replace(picture=""))  # every text a card shows


@pytest.mark.parametrize("picture", [
    "/etc/passwd", "http://evil.example/x.png", "data:image/svg+xml;base64,PHN2Zz4=", 42,
    "data:image/png;base64," + "A" * 20000,
])
def test_a_card_shows_only_a_small_png_data_url_as_its_picture(picture):
    from webapp.views import gallery

    assert gallery.cards([gallery_row(thumbnail=picture)])[0].picture is None


def test_card_details_from_a_model_file_are_cut_short():
    from webapp.views import gallery

    card = gallery.cards([gallery_row(training={"optimizer": "x" * 1000})])[0]
    assert len(card.details) == gallery.MAX_DETAILS and card.details.endswith("…")


def test_the_leaderboard_escapes_names_and_goes_to_two_columns_when_long():
    from webapp.views import gallery

    rows = [gallery_row(id=str(i), name=f"<b>#{i}</b>", test_accuracy=0.9 - i / 100) for i in range(9)]
    html = gallery.board_html(gallery.cards(rows), "7b")
    assert "<b>" not in html and "&lt;b&gt;#0&lt;/b&gt;" in html
    assert html.count("<li>") == 9 and 'class="dl-board two"' in html and "--half:5" in html
    short = gallery.board_html(gallery.cards(rows[:3]), "7b")
    assert 'class="dl-board"' in short and "<li><span class=\"rank\">1</span>" in short
    assert "Nothing published in class 7b yet" in gallery.board_html([], "7b")
    assert "&lt;" in gallery.board_html([], "<x>")


def test_the_leaderboard_signature_changes_with_what_it_shows():
    from webapp.views import gallery

    rows = [gallery_row(id="a"), gallery_row(id="b", test_accuracy=0.5)]
    same = [dict(r, thumbnail=None, shared="later") for r in rows]
    assert gallery.signature(rows) == gallery.signature(same)
    assert gallery.signature(rows) != gallery.signature(rows[::-1])
    assert gallery.signature(rows) != gallery.signature([*rows, gallery_row(id="c")])


def test_the_projector_switch_reads_1_or_0_from_a_link():
    from webapp.views import gallery

    assert gallery.flag("1") is True and gallery.flag("true") is True
    assert gallery.flag("0") is False
    for bad in ("yes please", "", "2"):
        with pytest.raises(ValueError):
            gallery.flag(bad)


# -- names, and a link's refused values ---------------------------------------------------------------


def test_continued_names_keep_one_continued_and_fit_the_stores_limit():
    from webapp import text
    from webapp.session import registry

    assert registry.continued_name("My model 1") == "My model 1 (continued)"
    assert registry.continued_name("My model 1 (continued)") == "My model 1 (continued)"
    assert registry.continued_name("My model 1 (continued) 2") == "My model 1 (continued)"
    assert len(registry.continued_name("x" * text.NAME_MAX)) + len(" 99") <= text.NAME_MAX


def test_taught_and_shared_names_fit_the_stores_limit_too():
    from webapp import text
    from webapp.session import registry

    assert registry.taught_name("Pretrained + yours 2") == "Pretrained + yours"
    longest = "x" * text.NAME_MAX
    for name in (registry.taught_name(longest), registry.with_suffix(longest, " (shared)")):
        assert len(name) + len(" 99") <= text.NAME_MAX and name.startswith("xxx")
        text.clean_name(name + " 99")  # a name the store takes, so it can be shared on


def test_shorten_cuts_with_an_ellipsis():
    assert display.shorten("abc", 5) == "abc"
    assert display.shorten("a" * 50, 10) == "a" * 9 + "…"
    assert display.shorten("two\nlines", 20) == "two lines"


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


def test_generic_url_parsers_say_what_they_take():
    with pytest.raises(ValueError, match="must be one of a, b"):
        fields.choice(["a", "b"])("<x>")
    with pytest.raises(ValueError, match="must be a whole number from 0 to 9"):
        fields.int_in(0, 9)("12")
    with pytest.raises(ValueError, match="must be a whole number, at least 1"):
        fields.int_in(1)("x")
