"""Inside the network, for the digit on the canvas: activations, why this digit, where it sits, two models.

Everything per stroke is one trace of the drawing (every hidden layer and the probabilities),
one or two saliency maps and a projection onto the test-set map: well under a millisecond
each for the shipped model (`python -m benchmarks.draw_speed` prints the whole page's share).
What depends only on the model (the map of the test set, the test images that excite each
unit) is computed once per model and kept (registry.derived).
"""

from collections.abc import Sequence

import numpy as np
import streamlit as st
from numpy.typing import NDArray

from data import DatasetError, DatasetNotFound
from mlp import MLP, explain
from mlp.arrays import Floats
from webapp import images, text
from webapp.session import keys, registry, resources
from webapp.session.registry import ModelEntry
from webapp.views import charts, display, teach

MAP_POINTS = 2000  # test images drawn on the map (every 5th of 10,000): enough to see the clusters
TOP_IMAGES = 8


TABS = ("Activations", "Why this digit", "Where it sits", "Two models")


def section(entry: ModelEntry, model: MLP, x: Floats | None, traced: explain.Trace | None,
            labels: Sequence[str]) -> None:
    """The four tabs under the canvas; only the open one runs. x: the (1, 784) input, or None before a drawing.

    Lazy tabs (on_change="rerun"): a stroke costs the server only the view the visitor is looking at,
    and the test-set work behind the map and the favourite images waits until those tabs are opened.
    """
    tabs = st.tabs(TABS, key=keys.INSIDE_TAB, on_change="rerun")
    views = (activations, why, where, two_models)
    for tab, view in zip(tabs, views):
        if not tab.open:
            continue
        with tab:
            if x is None or traced is None:  # (traced is None exactly when x is)
                st.caption("Draw a digit to see inside the network.")
            elif not traced.hidden and view in (activations, where):
                st.caption("This model has no hidden layer: its inputs go straight to the ten outputs.")
            else:
                view(entry, model, x, traced, labels)


def activations(entry: ModelEntry, model: MLP, x: Floats, traced: explain.Trace, labels: Sequence[str]) -> None:
    """Every hidden layer as a grid of units, brightest most active; a picked unit's template and favourite images."""
    ss = st.session_state
    sizes = [h.shape[1] for h in traced.hidden]
    layer = min(ss.get(keys.UNIT_LAYER, 0), len(sizes) - 1)
    ss[keys.UNIT_LAYER] = layer
    if ss.get(keys.UNIT) is None or ss[keys.UNIT] >= sizes[layer]:
        ss[keys.UNIT] = int(traced.hidden[layer][0].argmax())
    st.caption("Each square is one hidden unit, in order, row by row: the brighter, the more this drawing "
               "excites it (dark: silent). The white frame is the unit picked below.")
    # Small images the browser enlarges without smoothing (the Draw page's style): a 1,024-unit grid
    # is 96x96 pixels to encode, not 300x300, and the weights 28x28. Few elements, each a message to
    # the browser: rows are horizontal containers, not columns, and the grids are one image list.
    grids = [images.png_data_url(images.unit_grid(h[0], width=96, mark=ss[keys.UNIT] if i == layer else None))
             for i, h in enumerate(traced.hidden)]
    active = [int((h[0] > 0).sum()) for h in traced.hidden]
    st.image(grids, width=300,
             caption=[f"Layer {i + 1}: {n:,} of {sizes[i]:,} units active" for i, n in enumerate(active)],
             alt=[display.unit_grid_alt(i + 1, n, sizes[i]) for i, n in enumerate(active)])
    row = st.container(horizontal=True, vertical_alignment="bottom")
    row.selectbox("Layer", range(len(sizes)), key=keys.UNIT_LAYER, format_func=lambda i: f"Layer {i + 1}")
    row.number_input("Unit", 0, sizes[layer] - 1, key=keys.UNIT)
    # A callback: by the time the button reports a click, the unit's widget is drawn for this run.
    row.button("Most active", key=keys.MOST_ACTIVE, help="Pick the unit this drawing excites most",
               on_click=lambda: ss.update({keys.UNIT: int(traced.hidden[ss[keys.UNIT_LAYER]][0].argmax())}))
    unit = ss[keys.UNIT]
    below = st.container(horizontal=True, gap="medium")
    w = explain.input_weights(model, layer, unit, x, traced)
    below.image(images.png_data_url(images.diverging_rgb(w.reshape(28, 28))), width=168,
                caption="Its incoming weights" if layer == 0 else "Its template for this drawing",
                alt=f"Unit {unit} of layer {layer + 1} as a 28×28 picture: red where ink excites it, blue where "
                    "ink holds it back")
    if not ss.get(keys.SHOW_FAVOURITES):
        # On request: finding them runs the whole test set through the model (once per model), and
        # a visitor who only draws should not make the server load the dataset.
        below.button("Show the test images it likes most", key=keys.FAVOURITES_BUTTON,
                     on_click=lambda: ss.update({keys.SHOW_FAVOURITES: True}))
        return
    top = favourite_images(entry, model, layer)
    if top is None:
        below.caption("The test images that excite it most need the dataset, which is not on this server yet.")
        return
    ds = resources.dataset(entry.dataset)
    right = below.container(width="stretch")
    right.image([images.png_data_url(images.enlarge(ds.x_test[i] / 255.0, scale=2, grid=False)) for i in top[unit]],
                width=56,
                caption=[f"#{i}" for i in top[unit]],
                alt=[display.test_image_alt(i, labels[int(ds.y_test[i])]) for i in top[unit]])
    right.caption(f"The {TOP_IMAGES} test images that excite unit {unit} of layer {layer + 1} most. "
                  f"This drawing gives it {traced.hidden[layer][0, unit]:.2f}.")


def favourite_images(entry: ModelEntry, model: MLP, layer: int) -> NDArray[np.intp] | None:
    """(units, TOP_IMAGES) test-image indices that excite each unit of `layer` most; None without the dataset."""
    try:
        x_test, _ = resources.test_inputs(entry.dataset)
    except (DatasetNotFound, DatasetError):
        return None

    def compute() -> NDArray[np.intp]:
        h = explain.trace(model, x_test).hidden[layer]  # (n, units)
        part = np.argpartition(-h, TOP_IMAGES, axis=0)[:TOP_IMAGES]  # (k, units), unordered
        order = np.argsort(-np.take_along_axis(h, part, axis=0), axis=0, kind="stable")
        return np.take_along_axis(part, order, axis=0).T  # (units, k), most excited first

    with st.spinner("Finding the test images each unit likes best (once per model)…"):
        return registry.derived(entry, ("favourites", layer), compute)


def why(entry: ModelEntry, model: MLP, x: Floats, traced: explain.Trace, labels: Sequence[str]) -> None:
    """Saliency over the 28x28 input, for the reading or a digit the user picks."""
    reading = int(traced.probs[0].argmax())
    named = "the reading" if model.memory is None else "the network's reading"
    options = [None, *range(len(labels))]
    a, b = st.columns([1, 2])
    picked = a.selectbox("Explain", options, key=keys.EXPLAIN_DIGIT,
                         format_func=lambda d: f"{named} ({labels[reading]})" if d is None else f"why {labels[d]}?")
    target = reading if picked is None else picked
    s = explain.saliency(model, x, target, traced=traced)[0]
    a.image(images.png_data_url(images.saliency_overlay(x[0], s)), width=224,
            alt=f"The drawing in grey, red where its ink made {labels[target]} more likely, blue where it made "
                f"{labels[target]} less likely")
    b.markdown(f"**Why {labels[target]}?** Red pixels are ink that made the network more sure it is "
               f"**{labels[target]}** rather than another digit; blue pixels are ink that pulled it away. "
               f"It gives {labels[target]} a probability of **{traced.probs[0, target]:.1%}**.")
    b.caption("Gradient × input of the digit's log-probability: blanking the 10% most red ink lowers the "
              "probability far more than blanking 10% of the ink at random (docs/inside-the-network.md).")
    if model.memory is not None:
        b.caption("This is the network alone. The model also remembers drawings it was taught, and the "
                  "Prediction above leans on them when a drawing is close to one, so it can differ from this.")


def where(entry: ModelEntry, model: MLP, x: Floats, traced: explain.Trace, labels: Sequence[str]) -> None:
    """The drawing on a 2-D map of the test set (PCA of the last hidden layer); a click opens a test image."""
    try:
        x_test, y_test = resources.test_inputs(entry.dataset)
    except (DatasetNotFound, DatasetError):
        st.caption("The map of the test set needs the dataset, which is not on this server yet.")
        return
    with st.spinner("Mapping the test set for this model (once)…"):
        emb = registry.derived(entry, "embedding", lambda: explain.fit_embedding(model, x_test))
    here = emb.project(traced.hidden[-1])[0]
    shown = np.arange(0, len(y_test), max(1, len(y_test) // MAP_POINTS))
    base = registry.derived(entry, "map",
                            lambda: charts.embedding_base(emb.coords[shown], y_test[shown], shown, labels))
    st.vega_lite_chart(spec=charts.arrow_datasets(charts.embedding_map(base, here)), key=keys.MAP_CHART,
                       on_select=_open_clicked, selection_mode="image", width="stretch")
    st.caption(f"Each dot is a test image, placed by what the last hidden layer makes of it (its two main "
               f"directions, {emb.explained_variance_ratio.sum():.0%} of the variation); the orange diamond is "
               "your drawing. Click a dot to open that image on Inspect.")
    if st.session_state.pop(keys.OPEN_SAMPLE, None) is not None:
        st.switch_page("app_pages/inspect.py")


def _open_clicked() -> None:
    ss = st.session_state
    points = ss[keys.MAP_CHART].selection.get("image", [])
    if points:
        ss[keys.F_SAMPLE] = int(points[0]["index"])
        ss[keys.KEPT + keys.F_SAMPLE] = ss[keys.F_SAMPLE]
        ss[keys.OPEN_SAMPLE] = ss[keys.F_SAMPLE]


def two_models(entry: ModelEntry, model: MLP, x: Floats, traced: explain.Trace, labels: Sequence[str]) -> None:
    """The same drawing through a second model, beside the first."""
    entries = registry.all_models()
    others = [n for n, e in entries.items() if n != entry.name and e.current() is not None]
    if not others:
        st.caption("Train or upload another model to read this drawing with two models side by side.")
        return
    if st.session_state.get(keys.COMPARE_MODEL) not in others:
        st.session_state[keys.COMPARE_MODEL] = others[0]
    other = entries[st.selectbox("Compare with", others, key=keys.COMPARE_MODEL,
                                 format_func=lambda n: registry.describe(entries[n]))]
    left, right = st.columns(2)
    for col, e in ((left, entry), (right, other)):
        reader = e.require_model()
        read = traced if reader is model else explain.trace(reader, x)  # the page's trace, not a second pass
        recalled = teach.recall(reader, read)  # with a memory, its reading is the one predict_proba gives
        probs = (read.probs if recalled is None else recalled.probs)[0]
        digit = int(probs.argmax())
        col.metric(text.literal(e.name), labels[digit])
        col.caption(f"{probs[digit]:.1%} sure")
        leaning = teach.memory_badge(recalled, labels)  # as on Draw: when it leans on a drawing it was taught
        if leaning is not None:
            col.markdown(leaning)
        col.vega_lite_chart(spec=charts.arrow_datasets(charts.probability_bars(probs, labels, height=160)),
                            width="stretch")
