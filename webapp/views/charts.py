"""Altair charts used by the pages. Pure functions: data in, chart out."""

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import ArrayLike

from mlp.arrays import Floats, Ints
from mlp.calibration import Reliability

#: A Vega-Lite spec as a dict, for st.vega_lite_chart.
Spec = dict[str, Any]
#: Epoch records of a training history: {"epoch": 1, "train_loss": ..., "val_accuracy": ..., ...}.
History = Iterable[Mapping[str, Any]]

# Colours that read on both the light and the dark theme (axes and text follow the theme).
ACCENT = "#e4572e"  # the network's answer
MUTED = "#8aa4c8"  # the other classes
TRUE_MARK = "#2a9d8f"  # the true class
# Text in the page's own colour (SVG's currentColor: the theme's text colour, light or dark). Text in a
# fixed colour reads on one theme only: no colour is 4.5:1 against both backgrounds. (Axis and legend
# text, drawn by Streamlit's chart theme, take it from webapp.views.ui.PAGE_STYLE.)
PAGE_TEXT = "currentColor"
SPLITS = {"train": "#1f77b4", "val": "#ff7f0e"}
NEUTRAL = "#8a8d93"  # lines and outlines on either theme (not text)
SPLIT_NAMES = {"train": "blue: training", "val": "orange: validation"}
DIAGONAL = "#cfe8cf"  # correct readings in the confusion matrix


def probability_bars(probs: ArrayLike, labels: Iterable[object] | None = None, height: int = 220,
                     highlight: bool = True, true_class: int | None = None) -> Spec:
    """Bar chart of class probabilities as a Vega-Lite spec (for st.vega_lite_chart): the most likely class
    highlighted, the true class (if given) marked. With highlight=False every bar is plain (nothing read yet).

    The Draw page draws it on every stroke, so the spec is built by Altair once per shape and only the
    ten rows are new: building and validating an Altair chart took about 34 ms a stroke, this about 1 ms.
    """
    probs = np.asarray(probs, dtype=float)
    labels = tuple(str(i) for i in range(len(probs))) if labels is None else tuple(str(x) for x in labels)
    best = int(probs.argmax()) if highlight else -1
    spec = json.loads(_bars_template(labels, height, true_class))
    spec["datasets"] = {"probs": [{"class": c, "probability": float(p), "best": i == best}
                                  for i, (c, p) in enumerate(zip(labels, probs))]}
    if true_class is not None:
        spec["datasets"]["truth"] = [{"class": labels[true_class], "probability": 1.0, "text": "true"}]
    return spec


def arrow_datasets(spec: Spec) -> Spec:
    """The spec with its row lists as Arrow tables, for st.vega_lite_chart; the spec itself is left as it is.

    Streamlit sends every dataset as Arrow: a list of rows goes through a pandas DataFrame first
    (about 1.9 ms for ten bars), a pyarrow Table straight to its bytes (0.1 ms).
    """
    datasets = {name: pa.Table.from_pylist(rows) if isinstance(rows, list) else rows
                for name, rows in spec.get("datasets", {}).items()}
    return {**spec, "datasets": datasets} if datasets else spec


@functools.lru_cache(maxsize=32)
def _bars_template(labels: tuple[str, ...], height: int, true_class: int | None) -> str:
    """The bar chart's Vega-Lite spec without its rows, as JSON (each use gets its own copy)."""
    x = alt.X("class:N", sort=list(labels), title=None, axis=alt.Axis(labelAngle=0))
    bars = alt.Chart(alt.Data(name="probs")).mark_bar().encode(
        x=x,
        y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title=None),
        color=alt.condition("datum.best", alt.value(ACCENT), alt.value(MUTED)),
        tooltip=[alt.Tooltip("class:N"), alt.Tooltip("probability:Q", format=".2%")],
    )
    if true_class is not None:
        truth = alt.Chart(alt.Data(name="truth"))
        bars = (bars
                + truth.mark_text(dy=-2, baseline="bottom", fontWeight="bold", color=PAGE_TEXT).encode(
                    x=x, y="probability:Q", text="text:N")
                + truth.mark_rule(color=TRUE_MARK, strokeDash=[3, 3]).encode(x=x))
    return json.dumps(bars.properties(height=height).to_dict())


def history_frame(history: History) -> pd.DataFrame:
    """Long-form DataFrame (epoch, metric, split, value) from a list of epoch records."""
    return pd.DataFrame(_history_rows(history), columns=["epoch", "metric", "split", "value"])


def _history_rows(history: History, metrics: Sequence[str] = ("loss", "accuracy")) -> list[dict[str, Any]]:
    """history_frame's rows as dicts, for `metrics` only."""
    rows = []
    for r in history:
        for metric in metrics:
            for split in ("train", "val"):
                value = r.get(f"{split}_{metric}")
                if value is not None:
                    rows.append({"epoch": r["epoch"], "metric": metric, "split": split, "value": value})
    return rows


def history_chart(history: History, metric: str, height: int = 260) -> alt.Chart:
    """Line chart of train and validation `metric` ('loss' or 'accuracy') per epoch, from epoch 1.

    The key is the chart's subtitle: a legend inside the plot covered lines, and one beside or
    under it took a third of the chart's height.
    """
    df = history_frame(history)
    df = df[df["metric"] == metric]
    last = int(df["epoch"].max()) if len(df) else 1
    splits = tuple(s for s in SPLITS if (df["split"] == s).any())
    return _history_lines(alt.Chart(df), metric, height, splits, last)


def history_spec(history: History, metric: str, height: int = 260) -> Spec:
    """history_chart as a Vega-Lite spec for st.vega_lite_chart, the same chart: built by Altair once per
    shape, with only the rows and the epoch axis new. The Train page redraws it every second while a run
    trains; Altair building and validating the two charts took most of that refresh."""
    rows = _history_rows(history, (metric,))
    splits = tuple(s for s in SPLITS if any(r["split"] == s for r in rows))
    last = int(max(r["epoch"] for r in rows)) if rows else 1
    spec = json.loads(_history_template(metric, height, splits))
    spec["encoding"]["x"]["scale"]["domain"] = [1, max(2, last)]
    spec["datasets"] = {"history": [{**r, "epoch": int(r["epoch"]), "value": float(r["value"])} for r in rows]}
    return spec


@functools.lru_cache(maxsize=16)
def _history_template(metric: str, height: int, splits: tuple[str, ...]) -> str:
    """history_spec's chart without its rows (JSON; each use gets its own copy)."""
    return json.dumps(_history_lines(alt.Chart(alt.Data(name="history")), metric, height, splits, 2).to_dict())


def _history_lines(chart: alt.Chart, metric: str, height: int, splits: tuple[str, ...], last: int) -> alt.Chart:
    """The lines of `metric` per epoch over `chart`'s data, epochs 1..last, subtitled with the `splits` shown."""
    axis = alt.Axis(format="%") if metric == "accuracy" else alt.Axis()
    return (
        chart
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", scale=alt.Scale(domain=[1, max(2, last)], nice=False),
                    axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False), axis=axis),
            color=alt.Color("split:N", scale=alt.Scale(domain=list(SPLITS), range=list(SPLITS.values())),
                            legend=None),
            tooltip=["epoch:Q", "split:N", alt.Tooltip("value:Q", format=".4f")],
        )
        .properties(height=height, title=alt.TitleParams(
            metric.capitalize(), subtitle=" · ".join(SPLIT_NAMES[s] for s in splits), anchor="start"))
    )


def luminance(colour: str) -> float:
    """WCAG's relative luminance of a '#rrggbb' colour, 0 (black) to 1 (white)."""
    channels = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG's contrast ratio of two '#rrggbb' colours, 1 to 21."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def ink(fill: str) -> str:
    """Black or white, whichever reads better on `fill` ('#rrggbb'): at least 4.58:1 on any colour (WCAG AA
    asks 4.5:1). Dark grey or a fixed threshold on the count left mid-red cells near 4:1."""
    return "#000000" if contrast("#000000", fill) >= contrast("#ffffff", fill) else "#ffffff"


def _cell_colours(cm: Ints) -> list[str]:
    """Fill per cell: green diagonal, none for zero, orange to red by count off the diagonal.

    Zero cells stay transparent (and unlabelled), so the matrix reads on a light or a dark page.
    """
    k = len(cm)
    off = cm.astype(float).copy()
    np.fill_diagonal(off, 0)
    top = off.max() or 1.0
    low, high = np.array([253, 208, 162]), np.array([189, 0, 38])
    colours = []
    for i in range(k):
        for j in range(k):
            if i == j:
                colours.append(DIAGONAL)
            elif cm[i, j] == 0:
                colours.append("transparent")
            else:
                t = np.sqrt(cm[i, j] / top)  # sqrt: single mistakes stay visible beside the worst pairs
                r, g, b = (low + t * (high - low)).astype(int)
                colours.append(f"#{r:02x}{g:02x}{b:02x}")
    return colours


def confusion_heatmap(cm: ArrayLike, labels: Sequence[str] | None = None,
                      selected: Sequence[int] | None = None, selection_name: str = "cell") -> alt.LayerChart:
    """Heatmap of a confusion matrix with counts; clicking a cell selects (true, predicted).

    `selected`, a (true, predicted) pair or None, is the cell the page is filtering by: it stays
    opaque and the others fade. The highlight follows the page's filters, not the click, so
    setting the filters back to "any" shows every cell again.
    """
    cm = np.asarray(cm)
    k = len(cm)
    labels = [str(i) for i in range(k)] if labels is None else [str(x) for x in labels]
    true, pred = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    fill = _cell_colours(cm)
    faded = [selected is not None and (int(i), int(j)) != tuple(selected) for i, j in zip(true.ravel(), pred.ravel())]
    df = pd.DataFrame({
        "true": true.ravel(), "predicted": pred.ravel(), "count": cm.ravel(),
        "true_label": [labels[i] for i in true.ravel()], "predicted_label": [labels[j] for j in pred.ravel()],
        "fill": fill, "text": [str(c) if c else "" for c in cm.ravel()],
        "faded": faded,
        # A cell's count in black or white on its colour; on a faded cell (mostly the page showing through)
        # in the page's text colour.
        "ink": [PAGE_TEXT if out or f == "transparent" else ink(f) for f, out in zip(fill, faded)],
    })
    pick = alt.selection_point(name=selection_name, fields=["true", "predicted"], on="click")
    base = alt.Chart(df).encode(
        x=alt.X("predicted:O", title="predicted", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("true:O", title="true"),
    )
    cells = base.mark_rect(stroke="#88888855", strokeWidth=1, cursor="pointer").encode(
        color=alt.Color("fill:N", scale=None),
        opacity=alt.condition("datum.faded", alt.value(0.3), alt.value(1.0)),
        tooltip=[alt.Tooltip("true_label", title="true"), alt.Tooltip("predicted_label", title="predicted"), "count"],
    ).add_params(pick)
    text = base.mark_text(fontSize=12).encode(text="text:N", color=alt.Color("ink:N", scale=None))
    return (cells + text).properties(width=alt.Step(36), height=alt.Step(30))


def weight_histogram(w: ArrayLike, title: str, bins: int = 60) -> alt.Chart:
    """Histogram of one layer's weights, binned in NumPy (not in the browser); fits its column."""
    counts, edges = np.histogram(w, bins=bins)
    df = pd.DataFrame({"start": edges[:-1], "end": edges[1:], "count": counts})
    return (
        alt.Chart(df)
        .mark_bar(color=MUTED, stroke=None, binSpacing=0)
        .encode(
            x=alt.X("start:Q", title="weight", scale=alt.Scale(domain=[float(edges[0]), float(edges[-1])], nice=False)),
            x2="end:Q",
            # An explicit baseline: with x and x2 both set, bars were drawn as dots at their tops.
            y=alt.Y("count:Q", title="count"), y2=alt.datum(0),
            tooltip=[alt.Tooltip("start:Q", format=".3f"), alt.Tooltip("end:Q", format=".3f"), "count"],
        )
        .properties(height=220, title=title)
    )


def per_class_chart(per_class: ArrayLike, labels: Sequence[str] | None = None) -> alt.Chart:
    """Per-class accuracy as dots on an axis that starts just below the weakest class.

    Dots, not bars: a bar's length would claim a zero the zoomed axis does not show.
    """
    per_class = np.asarray(per_class, dtype=float)
    labels = [str(i) for i in range(len(per_class))] if labels is None else [str(x) for x in labels]
    df = pd.DataFrame({"class": labels, "accuracy": per_class})
    low = max(0.0, float(np.nanmin(per_class)) - 0.02)
    # Ticks on an axis under ten points long fall between whole percents: whole ones would repeat (99%, 99%).
    ticks = ".1%" if 1 - low < 0.1 else ".0%"
    return (
        alt.Chart(df)
        .mark_circle(color=MUTED, size=110, opacity=1)
        .encode(
            x=alt.X("class:N", sort=labels, axis=alt.Axis(labelAngle=0), title=None),
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[low, 1]), axis=alt.Axis(format=ticks, title=None)),
            tooltip=["class", alt.Tooltip("accuracy:Q", format=".2%")],
        )
        .properties(height=220)
    )


def embedding_map(base: Mapping[str, Any], here: Floats) -> Spec:
    """The test-set map (`embedding_base`) with the current drawing, `here` (2,), as an orange diamond.

    A Vega-Lite spec for st.vega_lite_chart: only the drawing's row is new each stroke.
    """
    spec = json.loads(base["template"])
    spec["datasets"] = {"points": base["points"], "here": [{"x": float(here[0]), "y": float(here[1]),
                                                            "what": "your drawing"}]}
    return spec


def embedding_base(coords: Floats, classes: Ints, indices: ArrayLike, labels: Sequence[str],
                   height: int = 420) -> dict[str, Any]:
    """What the map keeps per model: the spec (JSON) and its test-image dots, made ready to send once.

    coords (n, 2), classes (n,), indices (n,) test-image numbers (a click selects "index").
    """
    from streamlit import dataframe_util

    labels = [str(x) for x in labels]
    points = pd.DataFrame({"x": coords[:, 0], "y": coords[:, 1], "index": np.asarray(indices),
                           "class": [labels[int(c)] for c in classes]})
    # nearest: a click selects the closest dot, so small dots are easy to hit.
    pick = alt.selection_point(name="image", fields=["index"], on="click", nearest=True)
    dots = (
        alt.Chart(alt.Data(name="points"))
        .mark_circle(size=18, opacity=0.55, cursor="pointer")
        .encode(
            x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None),
            color=alt.Color("class:N", sort=labels, scale=alt.Scale(scheme="category10"),
                            legend=alt.Legend(title="test images", orient="right")),
            tooltip=[alt.Tooltip("index:Q", title="test image"), alt.Tooltip("class:N")],
        )
        .add_params(pick)
    )
    star = (
        alt.Chart(alt.Data(name="here"))
        .mark_point(shape="diamond", size=420, filled=True, color=ACCENT, stroke=NEUTRAL, strokeWidth=2)
        .encode(x="x:Q", y="y:Q", tooltip=[alt.Tooltip("what:N")])
    )
    # SVG, not the canvas Streamlit picks for this many dots: the legend's text then takes the page's
    # colours (webapp.views.ui.PAGE_STYLE), legible on either theme.
    chart = (dots + star).properties(height=height, usermeta={"embedOptions": {"renderer": "svg"}})
    # The 2,000 dots go as Arrow bytes, converted once (Streamlit sends bytes as they are).
    return {"template": json.dumps(chart.to_dict()),
            "points": dataframe_util.convert_anything_to_arrow_bytes(points)}


def difference_heatmap(diff: ArrayLike, labels: Sequence[str] | None = None) -> alt.LayerChart:
    """Heatmap of B's confusion matrix minus A's: green cells gained images, red ones lost them, blank unchanged.

    Off the diagonal a gain is more mistakes, so the colour there is flipped: green always means B did better.
    """
    diff = np.asarray(diff)
    k = len(diff)
    labels = [str(i) for i in range(k)] if labels is None else [str(x) for x in labels]
    true, pred = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    better = np.where(true == pred, diff, -diff).ravel()
    top = max(1, int(np.abs(diff).max()))
    # Colours made here, not by a Vega scale, so that each count can be written in black or white on its cell.
    fill = [_red_white_green(b / top) if b else "transparent" for b in better]
    df = pd.DataFrame({
        "true": true.ravel(), "predicted": pred.ravel(), "change": diff.ravel(), "better": better,
        "text": [f"{d:+d}" if d else "" for d in diff.ravel()], "fill": fill,
        "ink": [ink(f) if f != "transparent" else PAGE_TEXT for f in fill],
    })
    names = _label_expr(labels)
    base = alt.Chart(df).encode(
        x=alt.X("predicted:O", title="predicted", axis=alt.Axis(labelAngle=0, orient="top", labelExpr=names)),
        y=alt.Y("true:O", title="true", axis=alt.Axis(labelExpr=names)),
    )
    cells = base.mark_rect(stroke="#88888855", strokeWidth=1).encode(
        color=alt.Color("fill:N", scale=None),
        tooltip=["true", "predicted", alt.Tooltip("change:Q", title="B − A")],
    )
    text = base.mark_text(fontSize=12).encode(text="text:N", color=alt.Color("ink:N", scale=None))
    return (cells + text).properties(width=alt.Step(36), height=alt.Step(30))


def _red_white_green(t: float) -> str:
    """-1 (red: B did worse) through 0 (near white) to 1 (green: B did better), as '#rrggbb'."""
    white, red, green = np.array([247, 247, 247]), np.array([192, 57, 43]), np.array([30, 132, 73])
    rgb = white + abs(t) * ((green if t > 0 else red) - white)
    return "#%02x%02x%02x" % tuple(int(round(c)) for c in rgb)


def _label_expr(labels: Iterable[object]) -> str:
    """A Vega expression showing class names instead of class numbers on an axis."""
    return "[" + ", ".join(repr(str(x)) for x in labels) + "][datum.value]"


def reliability_diagram(rel: Reliability, height: int = 300) -> Spec:
    """Reliability diagram of an mlp.calibration.Reliability as a Vega-Lite spec (for st.vega_lite_chart).

    One bar per non-empty confidence bin, as tall as the fraction read correctly, fainter the fewer
    samples it holds (the tooltip gives the count); the dashed diagonal is perfect calibration. Bars
    under it are over-confident bins. The spec is built by Altair once per height; only the rows are new.
    """
    spec = json.loads(_reliability_template(height))
    filled = np.flatnonzero(rel.count)
    spec["datasets"] = {
        "bins": [{"low": float(rel.edges[i]), "high": float(rel.edges[i + 1]), "count": int(rel.count[i]),
                  "accuracy": float(rel.accuracy[i]), "confidence": float(rel.confidence[i])} for i in filled],
        "diagonal": [{"x": 0.0, "y": 0.0}, {"x": 1.0, "y": 1.0}],
    }
    return spec


@functools.lru_cache(maxsize=8)
def _reliability_template(height: int) -> str:
    """The reliability diagram's Vega-Lite spec without its rows, as JSON (each use gets its own copy)."""
    unit = alt.Scale(domain=[0, 1], nice=False)
    bars = alt.Chart(alt.Data(name="bins")).mark_bar(color=MUTED, stroke=ACCENT, strokeWidth=1).encode(
        x=alt.X("low:Q", scale=unit, axis=alt.Axis(format="%", tickCount=10), title="confidence (top probability)"),
        x2="high:Q",
        y=alt.Y("accuracy:Q", scale=unit, axis=alt.Axis(format="%"), title="read correctly"),
        y2=alt.datum(0),  # with x and x2 set, bars without a baseline were drawn as slivers at their tops
        # log: MNIST models put nearly every image in the top bin, and a linear scale hides the rest
        opacity=alt.Opacity("count:Q", scale=alt.Scale(type="log", range=[0.3, 1]), legend=None),
        tooltip=[alt.Tooltip("low:Q", title="from", format=".0%"), alt.Tooltip("high:Q", title="to", format=".0%"),
                 alt.Tooltip("count:Q", title="count", format=","),
                 alt.Tooltip("confidence:Q", title="mean confidence", format=".2%"),
                 alt.Tooltip("accuracy:Q", title="right", format=".2%")],
    )
    diagonal = alt.Chart(alt.Data(name="diagonal")).mark_line(color=NEUTRAL, strokeDash=[5, 4]).encode(
        x="x:Q", y="y:Q")
    return json.dumps((bars + diagonal).properties(height=height).to_dict())
