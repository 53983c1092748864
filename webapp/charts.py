"""Altair charts used by the pages. Pure functions: data in, chart out."""

import altair as alt
import numpy as np
import pandas as pd


def probability_bars(probs, labels=None, height=220):
    """Bar chart of class probabilities, the most likely class highlighted."""
    probs = np.asarray(probs, dtype=float)
    labels = [str(i) for i in range(len(probs))] if labels is None else list(labels)
    best = int(probs.argmax())
    df = pd.DataFrame({"class": labels, "probability": probs, "best": [i == best for i in range(len(probs))]})
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("class:N", sort=labels, title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title=None),
            color=alt.condition("datum.best", alt.value("#e4572e"), alt.value("#8aa4c8")),
            tooltip=["class", alt.Tooltip("probability:Q", format=".2%")],
        )
        .properties(height=height)
    )


def history_frame(history):
    """Long-form DataFrame (epoch, metric, split, value) from a list of epoch records."""
    rows = []
    for r in history:
        for metric in ("loss", "accuracy"):
            for split in ("train", "val"):
                value = r.get(f"{split}_{metric}")
                if value is not None:
                    rows.append({"epoch": r["epoch"], "metric": metric, "split": split, "value": value})
    return pd.DataFrame(rows, columns=["epoch", "metric", "split", "value"])


def history_chart(history, metric, height=220):
    """Line chart of train and validation `metric` ('loss' or 'accuracy') per epoch."""
    df = history_frame(history)
    df = df[df["metric"] == metric]
    y = alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False))
    if metric == "accuracy":
        y = alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False), axis=alt.Axis(format="%"))
    return (
        alt.Chart(df)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
            y=y,
            color=alt.Color("split:N", scale=alt.Scale(domain=["train", "val"], range=["#1f77b4", "#ff7f0e"]),
                            legend=alt.Legend(orient="top-right", title=None, direction="horizontal")),
            tooltip=["epoch", "split", alt.Tooltip("value:Q", format=".4f")],
        )
        .properties(height=height, title=metric.capitalize())
    )


def _cell_colours(cm):
    """Hex fill per cell: green diagonal, white for zero, orange to red by count off the diagonal."""
    k = len(cm)
    off = cm.astype(float).copy()
    np.fill_diagonal(off, 0)
    top = off.max() or 1.0
    low, high = np.array([253, 208, 162]), np.array([189, 0, 38])
    colours = []
    for i in range(k):
        for j in range(k):
            if i == j:
                colours.append("#cfe8cf")
            elif cm[i, j] == 0:
                colours.append("#ffffff")
            else:
                t = np.sqrt(cm[i, j] / top)  # sqrt: single mistakes stay visible beside the worst pairs
                r, g, b = (low + t * (high - low)).astype(int)
                colours.append(f"#{r:02x}{g:02x}{b:02x}")
    return colours


def confusion_heatmap(cm, labels=None, selection_name="cell"):
    """Heatmap of a confusion matrix with counts; clicking a cell selects (true, predicted)."""
    cm = np.asarray(cm)
    k = len(cm)
    labels = [str(i) for i in range(k)] if labels is None else [str(x) for x in labels]
    true, pred = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    df = pd.DataFrame({
        "true": true.ravel(), "predicted": pred.ravel(), "count": cm.ravel(),
        "true_label": [labels[i] for i in true.ravel()], "predicted_label": [labels[j] for j in pred.ravel()],
        "fill": _cell_colours(cm),
    })
    # Dark cells get white text.
    df["ink"] = np.where(df["fill"].isin(["#ffffff", "#cfe8cf"]) | (df["count"] < 0.4 * max(1, df["count"][df["true"] != df["predicted"]].max())), "#222222", "#ffffff")
    pick = alt.selection_point(name=selection_name, fields=["true", "predicted"], on="click")
    base = alt.Chart(df).encode(
        x=alt.X("predicted:O", title="predicted", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("true:O", title="true"),
    )
    cells = base.mark_rect(stroke="#dddddd", strokeWidth=1).encode(
        color=alt.Color("fill:N", scale=None),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.35)),
        tooltip=[alt.Tooltip("true_label", title="true"), alt.Tooltip("predicted_label", title="predicted"), "count"],
    ).add_params(pick)
    text = base.mark_text(fontSize=12).encode(text="count:Q", color=alt.Color("ink:N", scale=None))
    return (cells + text).properties(width=alt.Step(36), height=alt.Step(30))


def weight_histograms(weights, bins=60):
    """One histogram per layer's weight matrix, binned in NumPy (not in the browser)."""
    frames = []
    for i, w in enumerate(weights):
        counts, edges = np.histogram(w, bins=bins)
        frames.append(pd.DataFrame({
            "layer": f"layer {i + 1} ({w.shape[0]}x{w.shape[1]})",
            "start": edges[:-1], "end": edges[1:], "count": counts,
        }))
    df = pd.concat(frames, ignore_index=True)
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("start:Q", title="weight"), x2="end:Q", y=alt.Y("count:Q", title="count"),
            tooltip=[alt.Tooltip("start:Q", format=".3f"), alt.Tooltip("end:Q", format=".3f"), "count"],
        )
        .properties(width=260, height=160)
        .facet(facet=alt.Facet("layer:N", title=None), columns=3)
        .resolve_scale(x="independent", y="independent")
    )


def per_class_chart(per_class, labels=None):
    """Per-class accuracy as dots on an axis that starts just below the weakest class.

    Dots, not bars: a bar's length would claim a zero the zoomed axis does not show.
    """
    per_class = np.asarray(per_class, dtype=float)
    labels = [str(i) for i in range(len(per_class))] if labels is None else [str(x) for x in labels]
    df = pd.DataFrame({"class": labels, "accuracy": per_class})
    low = max(0.0, float(np.nanmin(per_class)) - 0.02)
    return (
        alt.Chart(df)
        .mark_circle(color="#5b8bd0", size=110, opacity=1)
        .encode(
            x=alt.X("class:N", sort=labels, axis=alt.Axis(labelAngle=0), title=None),
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[low, 1]), axis=alt.Axis(format=".0%", title=None)),
            tooltip=["class", alt.Tooltip("accuracy:Q", format=".2%")],
        )
        .properties(height=220)
    )
