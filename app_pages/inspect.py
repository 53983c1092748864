"""Look inside a model: its training, weights, confusion matrix and the test images it gets wrong."""

import pandas as pd
import streamlit as st

from data import DatasetError, DatasetNotFound
from webapp import charts, images, state
from webapp.mistakes import mistakes, page_of

PER_PAGE = 24
COLUMNS = 8

state.init_session()
ss = st.session_state
qp = st.query_params

st.title("Inspect a model")
st.caption(
    "Pick a model to see how it was trained, what its first layer looks for, where it confuses "
    "classes, and the test images it gets wrong. Click a cell of the confusion matrix to list "
    "those mistakes. The address bar keeps your filters, so you can share a link to this view."
)

entry = state.model_selector("inspect_model")
if entry is None:
    st.stop()
model = entry.current()
if model is None:
    st.info("This model is still in its first epoch. Come back in a moment.")
    st.stop()

# -- summary --------------------------------------------------------------------------------

meta = model.meta
history = meta.get("history", [])
c = st.columns(4)
hidden = model.layer_sizes[1:-1]
c[0].metric("Hidden layers", " · ".join(map(str, hidden)) if hidden else "none",
            help="Units per hidden layer; the caption below gives the whole architecture.")
c[1].metric("Parameters", f"{model.n_parameters:,}")
acc = meta.get("test_accuracy")
c[2].metric("Test accuracy", f"{acc:.2%}" if isinstance(acc, float) else "—")
c[3].metric("Epochs trained", len(history))
drawn = meta.get("drawn_digits")
if isinstance(drawn, dict) and isinstance(drawn.get("accuracy"), float):
    st.caption(f"On {drawn.get('n', '?'):,} digits drawn with a pen on the canvas (not MNIST): "
               f"**{drawn['accuracy']:.2%}** read correctly, through the same preprocessing as the Draw page.")
st.caption(f"Layers {' → '.join(map(str, model.layer_sizes))}, activation **{model.activation}**, "
           f"dropout {model.dropout:g}, trained on "
           f"**{state.dataset_label(entry.dataset)}**" + (f", created {meta['created']}" if meta.get("created") else ""))
if history:
    left, right = st.columns(2)
    left.altair_chart(charts.history_chart(history, "loss"), width="stretch")
    right.altair_chart(charts.history_chart(history, "accuracy"), width="stretch")
if meta.get("training"):
    with st.expander("Training settings"):
        settings = {k: (", ".join(map(str, v)) if isinstance(v, list) else v) for k, v in meta["training"].items()}
        st.dataframe(pd.DataFrame({"setting": list(settings), "value": [str(v) for v in settings.values()]}),
                     hide_index=True, width="stretch")

tab_test, tab_weights = st.tabs(["Confusion matrix and mistakes", "Weights"])

# -- weights ----------------------------------------------------------------------------------

with tab_weights:
    w0 = model.dense[0].params["W"]
    n_units = w0.shape[1]
    st.markdown("**First-layer weights**: one 28×28 tile per hidden unit; red pixels push the unit up, blue pull it down.")
    shown = st.slider("Units to show", 1, n_units, min(64, n_units), key="w_units")
    st.image(images.weight_grid(w0, range(shown), columns=16), width="stretch")
    st.markdown("**Weight distributions** of every layer")
    st.altair_chart(charts.weight_histograms([d.params["W"] for d in model.dense]))

# -- test set: confusion matrix and mistakes --------------------------------------------------------

with tab_test:
    try:
        ds = state.dataset(entry.dataset)
    except (DatasetNotFound, DatasetError) as e:
        state.offer_download(entry.dataset, e)
        st.stop()
    ev = state.evaluation(entry)
    labels = state.class_names(entry.dataset)
    options = [None, *range(len(labels))]

    def from_query(name, default=None):
        """An int query parameter, or default when absent or not a valid class/number."""
        try:
            return int(qp[name])
        except (KeyError, ValueError):
            return default

    # Filters come from the URL the first time this page is shown in a session, and are kept
    # (shadow copies) when the user visits another page and comes back.
    from_url = {
        "f_true": from_query("true") if from_query("true") in options else None,
        "f_pred": from_query("pred") if from_query("pred") in options else None,
        "f_order": "unsure" if qp.get("order") == "unsure" else "confident",
        "f_page": max(1, from_query("page", 1)),
        "f_sample": from_query("sample"),
    }
    for key, value in from_url.items():
        saved = f"_kept_{key}"
        if key in ss:
            ss[saved] = ss[key]
        else:
            ss[key] = ss[saved] = ss.get(saved, value)

    def pick_cell():
        """Confusion-matrix click: filter the browser by that (true, predicted) pair."""
        cells = ss.cm_chart.selection.get("cell", [])
        if cells:
            ss.f_true, ss.f_pred = int(cells[0]["true"]), int(cells[0]["predicted"])
            ss.f_page = 1

    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown(f"**Confusion matrix** on the {len(ds.y_test):,} test images (rows: true, columns: predicted)")
        st.altair_chart(charts.confusion_heatmap(ev.confusion_matrix, labels), key="cm_chart",
                        on_select=pick_cell, selection_mode="cell")
    with right:
        st.markdown("**Accuracy per class**")
        st.altair_chart(charts.per_class_chart(ev.per_class_accuracy, labels), width="stretch")
        st.caption(f"Overall {ev.accuracy:.2%}: {int((ev.confusion_matrix.sum() - ev.confusion_matrix.trace())):,} mistakes.")

    st.subheader("Mistakes")
    name_of = lambda i: "any" if i is None else labels[i]  # noqa: E731
    f1, f2, f3, f4 = st.columns([2, 2, 2, 1])
    true = f1.selectbox("True class", options, key="f_true", format_func=name_of)
    pred = f2.selectbox("Predicted class", options, key="f_pred", format_func=name_of)
    order = f3.selectbox("Order", ["confident", "unsure"], key="f_order",
                         format_func=lambda o: "Most confident first" if o == "confident" else "Least confident first")
    found = mistakes(ev.probabilities, ds.y_test, true, pred, order)
    items, page, pages = page_of(found, ss.f_page, PER_PAGE)
    ss.f_page = page
    f4.number_input(f"Page (of {pages})", 1, pages, key="f_page")

    # Mirror the view into the URL so the link can be shared.
    view = {"true": true, "pred": pred, "order": None if order == "confident" else order,
            "page": None if page == 1 else page, "sample": ss.f_sample}
    for k, v in view.items():
        if v is None:
            qp.pop(k, None)
        elif qp.get(k) != str(v):
            qp[k] = str(v)

    if ss.f_sample is not None and 0 <= ss.f_sample < len(ds.y_test):
        i = ss.f_sample
        p = ev.probabilities[i]
        with st.container(border=True):
            a, b, c = st.columns([1, 3, 1])
            a.image(images.enlarge(ds.x_test[i] / 255.0, scale=5), caption=f"test image #{i}")
            b.altair_chart(charts.probability_bars(p, labels, height=180), width="stretch")
            c.metric("True", labels[int(ds.y_test[i])])
            c.metric("Predicted", labels[int(p.argmax())], f"{p.max():.1%} sure", delta_color="off")
            if c.button("Close", key="close_sample"):
                ss.f_sample = None
                st.rerun()

    if not len(found):
        st.info("No mistakes with these filters.")
    matches = "1 mistake matches" if len(found) == 1 else f"{len(found):,} mistakes match"
    st.caption(f"{matches}; showing {len(items)} on page {page} of {pages}. "
               "Press the chart button under an image for its probabilities.")
    for row in range(0, len(items), COLUMNS):
        cols = st.columns(COLUMNS)
        for col, i in zip(cols, items[row:row + COLUMNS]):
            p = ev.probabilities[i]
            k = int(p.argmax())
            col.image(images.enlarge(ds.x_test[i] / 255.0, scale=3, grid=False), width="stretch")
            col.caption(f"true **{labels[int(ds.y_test[i])]}** → **{labels[k]}** · {p[k]:.0%}")
            if col.button(":material/bar_chart:", key=f"s-{i}", help=f"Show the probabilities of test image #{i}"):
                ss.f_sample = int(i)
                st.rerun()
