"""webapp.views.charts: the Altair and Vega-Lite charts the pages draw, and their text's contrast."""

import numpy as np
import pytest

from webapp.views import charts


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


@pytest.mark.parametrize(("per_class", "ticks"), [
    ([0.998, 0.99, 0.97, 0.986], ".1%"),  # an axis from 95% to 100%: whole percents would repeat
    ([0.99, 0.62, 0.9], ".0%"),
])
def test_per_class_ticks_show_a_decimal_when_the_axis_is_short(per_class, ticks):
    y = charts.per_class_chart(per_class).to_dict()["encoding"]["y"]
    assert y["scale"]["domain"] == [pytest.approx(min(per_class) - 0.02), 1]
    assert y["axis"]["format"] == ticks
