"""Look inside a model: its training, weights, confusion matrix and the test images it gets wrong."""

import streamlit as st

from data import DatasetError, DatasetNotFound
from webapp.session import keys, registry, resources
from webapp.views import calibration, charts, inspect, replay, ui, urlstate
from webapp.views.mistakes import ANY, mistakes, page_of

PER_PAGE = 24

registry.init_session()
ss = st.session_state

st.title("Inspect a model")
st.caption(
    "Pick a model to see how it was trained, what its first layer looks for, where it confuses "
    "classes, and the test images it gets wrong. Click a cell of the confusion matrix to list "
    "those mistakes. The address bar keeps the model and your filters, so you can share a link to this view."
)

entry = registry.model_selector(keys.INSPECT_MODEL)
if entry is None:
    st.stop()
model = entry.current()
if model is None:
    st.info("This model is still in its first epoch. Come back in a moment.")
    st.stop()
inspect.summary(entry, model)

tab_test, tab_weights, tab_compare, tab_replay, tab_calibration = st.tabs(
    ["Confusion matrix and mistakes", "Weights", "Compare with another model", "Watch it learn", "Calibration"])
with tab_weights:
    inspect.weights(model)

with tab_test:
    try:
        ds = resources.dataset(entry.dataset)
    except (DatasetNotFound, DatasetError) as e:
        ui.dataset_notice(entry.dataset, e)
        st.stop()
    ev = registry.evaluation(entry)
    labels = resources.class_names(entry.dataset)
    fields = inspect.filter_fields(len(labels), len(ds.y_test))
    urlstate.restore(fields)
    both = ss[keys.F_TRUE] != ANY and ss[keys.F_PRED] != ANY
    highlighted = (ss[keys.F_TRUE], ss[keys.F_PRED]) if both else None
    # A new chart for each filter: a click on any cell, even the last one clicked, is a new selection.
    chart_key = f"{keys.CM_CHART}-{highlighted}"

    def pick_cell():
        """Confusion-matrix click: filter the browser by that (true, predicted) pair."""
        cells = ss[chart_key].selection.get("cell", [])
        if cells:
            ss[keys.F_TRUE], ss[keys.F_PRED] = int(cells[0]["true"]), int(cells[0]["predicted"])
            ss[keys.F_PAGE] = 1

    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown(f"**Confusion matrix** on the {len(ds.y_test):,} test images (rows: true, columns: predicted)")
        st.altair_chart(charts.confusion_heatmap(ev.confusion_matrix, labels, selected=highlighted),
                        key=chart_key, on_select=pick_cell, selection_mode="cell")
    with right:
        st.markdown("**Accuracy per class**")
        st.altair_chart(charts.per_class_chart(ev.per_class_accuracy, labels), width="stretch")
        wrong = int(ev.confusion_matrix.sum() - ev.confusion_matrix.trace())
        st.caption(f"Overall {ev.accuracy:.2%}: {wrong:,} mistakes.")

    st.subheader("Mistakes")
    name_of = lambda i: "any" if i == ANY else labels[i]  # noqa: E731
    classes = [ANY, *range(len(labels))]
    f1, f2, f3, f4 = st.columns([2, 2, 2, 1])
    true = f1.selectbox("True class", classes, key=keys.F_TRUE, format_func=name_of)
    pred = f2.selectbox("Predicted class", classes, key=keys.F_PRED, format_func=name_of)
    order = f3.selectbox("Order", list(inspect.ORDERS), key=keys.F_ORDER, format_func=inspect.ORDERS.get)
    found = mistakes(ev.probabilities, ds.y_test, true, pred, order)
    items, page, pages = page_of(found, ss[keys.F_PAGE], PER_PAGE)
    ss[keys.F_PAGE] = page
    f4.number_input(f"Page (of {pages})", 1, pages, key=keys.F_PAGE)
    urlstate.mirror(fields)

    sample = ss[keys.F_SAMPLE]
    if sample is not None:
        inspect.sample_card(ds.x_test[sample], int(ds.y_test[sample]), ev.probabilities[sample], labels, sample)
    if not len(found):
        st.info("No mistakes with these filters.")
    matches = "1 mistake matches" if len(found) == 1 else f"{len(found):,} mistakes match"
    st.caption(f"{matches}; showing {len(items)} on page {page} of {pages}. "
               "Press the chart button under an image for its probabilities.")
    inspect.mistake_grid(items, ds.x_test, ds.y_test, ev.probabilities, labels)
with tab_compare:
    inspect.compare(entry, ds, ev, labels)
with tab_replay:
    if entry.job is None:
        st.caption("Runs trained in this session keep every epoch (within a memory budget) to replay here.")
    replay.replay_section(entry, ds.x_test, ds.y_test, labels)
with tab_calibration:
    calibration.section(entry, ev, ds.y_test)
