"""The Inspect page's sections, each drawn from a model and pure helpers."""

from collections.abc import Iterable, Sequence

import numpy as np
import streamlit as st

from data import Dataset
from mlp import MLP, explain
from mlp.arrays import Floats, Ints, Pixels
from mlp.memory import Memory
from mlp.metrics import Evaluation
from webapp import images, text
from webapp.session import keys, registry, resources
from webapp.session.registry import ModelEntry
from webapp.training.status import plural
from webapp.views import charts, fields
from webapp.views.display import (
    compared_image_alt,
    curves_note,
    settings_rows,
    test_image_alt,
    weight_tiles_alt,
)
from webapp.views.mistakes import ANY

ORDERS = {"confident": "Most confident first", "unsure": "Least confident first"}
TILE_WIDTH = 96  # px per mistake: a phone fits three in a row, a desktop a dozen
PER_COMPARE = 24  # images shown of what model B fixed, and of what it broke


def filter_fields(n_classes: int, n_test: int) -> list[fields.UrlField]:
    """The mistake browser's widgets and their URL names; a shared link restores them."""
    return [
        fields.UrlField(keys.F_TRUE, ANY, "true", fields.int_in(0, n_classes - 1)),
        fields.UrlField(keys.F_PRED, ANY, "pred", fields.int_in(0, n_classes - 1)),
        fields.UrlField(keys.F_ORDER, "confident", "order", fields.choice(ORDERS)),
        fields.UrlField(keys.F_PAGE, 1, "page", fields.int_in(1)),
        fields.UrlField(keys.F_SAMPLE, None, "sample", fields.int_in(0, n_test - 1)),
    ]


def summary(entry: ModelEntry, model: MLP) -> None:
    """Architecture, size, scores, training curves and settings."""
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
        n = drawn.get("n")
        count = f"{n:,}" if isinstance(n, int) else "some"
        st.caption(f"On {count} digits drawn with a pen on the canvas (not MNIST): "
                   f"**{drawn['accuracy']:.2%}** read correctly, through the same preprocessing as the Draw page.")
    st.caption(f"Layers {' → '.join(map(str, model.layer_sizes))}, activation **{model.activation}**, "
               f"dropout {model.dropout:g}, trained on **{resources.dataset_label(entry.dataset)}**"
               + (f", created {text.literal(meta['created'])}" if meta.get("created") else ""))
    if model.memory is not None:
        st.caption(memory_caption(model.memory))
    if history:
        left, right = st.columns(2)
        left.altair_chart(charts.history_chart(history, "loss"), width="stretch")
        right.altair_chart(charts.history_chart(history, "accuracy"), width="stretch")
        note = curves_note(meta)
        if note:
            st.caption(note)
    if meta.get("training"):
        with st.expander("Training settings"):
            last = meta["training"].get("epochs")
            # A run that ran all its epochs ("completed"): a stopped one's history is shorter than its settings say.
            if (meta.get("outcome") == "completed" and isinstance(last, int) and not isinstance(last, bool)
                    and 0 < last < len(history)):
                before = len(history) - last
                st.caption(f"The settings of its last run ({plural(last, 'epoch')}), which went on from a "
                           f"model trained {plural(before, 'epoch')} before it: {len(history)} in all.")
            rows = settings_rows(meta["training"])
            st.dataframe({"setting": [r[0] for r in rows], "value": [r[1] for r in rows]},
                         hide_index=True, width="stretch")


def memory_caption(memory: Memory) -> str:
    """A taught model's memory of drawings (mlp.memory), in words."""
    drawn = np.bincount(memory.labels[:memory.drawings], minlength=10)
    digits = ", ".join(f"{n} × {d}" for d, n in enumerate(drawn.tolist()) if n)
    drawings = "the drawing" if memory.drawings == 1 else f"the {memory.drawings:,} drawings"
    return (f"Remembers {drawings} it was taught ({digits}), as {memory.count:,} exemplars with distorted "
            "copies: a drawing close to one of them reads as its digit. The test set is read with it here.")


def weights(model: MLP) -> None:
    """First-layer weight tiles and every layer's weight histogram."""
    w0 = model.dense[0].params["W"]
    n_units = w0.shape[1]
    st.markdown("**First-layer weights**: one 28×28 tile per hidden unit; red pixels push the unit up, "
                "blue pull it down.")
    shown = st.slider("Units to show", 1, n_units, min(64, n_units), key=keys.W_UNITS)
    st.image(images.weight_grid(w0, range(shown), columns=16), width="stretch", alt=weight_tiles_alt(shown))
    st.markdown("**Weight distributions** of every layer")
    layers = [d.params["W"] for d in model.dense]
    for start in range(0, len(layers), 3):
        cols = st.columns(3)
        for col, (i, w) in zip(cols, enumerate(layers[start:start + 3], start)):
            title = f"layer {i + 1} ({w.shape[0]}×{w.shape[1]})"
            col.altair_chart(charts.weight_histogram(w, title), width="stretch")


def sample_card(x: Pixels, true: int, probs: Floats, labels: Sequence[str], index: int) -> None:
    """One test image with its probabilities, the true class marked; Close clears the choice."""
    with st.container(border=True):
        a, b, c = st.columns([1, 3, 1])
        guess = int(probs.argmax())
        a.image(images.enlarge(x / 255.0, scale=5), caption=f"test image #{index}",
                alt=test_image_alt(index, labels[true], labels[guess]))
        b.vega_lite_chart(spec=charts.probability_bars(probs, labels, height=180, true_class=true), width="stretch")
        c.metric("True", labels[true])
        c.metric("Predicted", labels[guess])
        c.caption(f"{probs[guess]:.1%} sure")
        if c.button("Close", key=keys.CLOSE_SAMPLE):
            st.session_state[keys.F_SAMPLE] = None
            st.rerun()


def mistake_grid(items: Iterable[int], x_test: Pixels, y_test: Ints, probabilities: Floats,
                 labels: Sequence[str]) -> None:
    """Misclassified test images as tiles that wrap to the screen's width, each with a probabilities button."""
    captions, alts = [], []
    for i in items:
        k = int(probabilities[i].argmax())
        captions.append(f"true **{labels[int(y_test[i])]}** → **{labels[k]}** · {probabilities[i][k]:.0%}")
        alts.append(test_image_alt(i, labels[int(y_test[i])], labels[k]))
    image_grid(items, x_test, captions, alts)


def image_grid(items: Iterable[int], x_test: Pixels, captions: Iterable[str], alts: Iterable[str],
               key_prefix: str = "s") -> None:
    """Test images as tiles that wrap (3 in a row on a phone, a dozen on a desktop); a button opens each one.
    `alts` say what each image shows, for screen readers."""
    grid = st.container(horizontal=True, gap="small", key=f"{keys.ICON_BUTTONS}_{key_prefix.replace(' ', '_')}")
    for i, caption, alt in zip(items, captions, alts):
        tile = grid.container(width=TILE_WIDTH, gap=None)
        tile.image(images.enlarge(x_test[i] / 255.0, scale=3, grid=False), width="stretch", alt=alt)
        tile.caption(caption)
        if tile.button(f"Probabilities of test image {i}", icon=":material/bar_chart:", key=f"{key_prefix}-{i}",
                       help=f"Show the probabilities of test image #{i}"):  # the words for screen readers only
            st.session_state[keys.F_SAMPLE] = int(i)
            st.rerun()


def compare(entry: ModelEntry, ds: Dataset, ev: Evaluation, labels: Sequence[str]) -> None:
    """Model A (the page's model) against a model B on the test set: what B fixed and what it broke."""
    b = registry.compare_selector(entry)
    if b is None:
        st.caption("Train or upload another model for the same dataset to compare it with this one.")
        return
    pb = registry.evaluation(b).probabilities
    result = explain.compare(ev.probabilities, pb, ds.y_test)
    c = st.columns(3)
    c[0].metric(f"A: {text.literal(entry.name)}", f"{result.accuracy_a:.2%}")
    c[1].metric(f"B: {text.literal(b.name)}", f"{result.accuracy_b:.2%}")
    c[2].metric("B fixed / broke", f"{len(result.fixed):,} / {len(result.broke):,}")
    st.markdown("**B − A, confusion matrices**: green where B puts more test images in that cell, red where "
                "fewer. On the diagonal green is better; off it, red is.")
    st.altair_chart(charts.difference_heatmap(result.diff_confusion, labels))
    pa = ev.probabilities
    for title, items in (("B fixed", result.fixed), ("B broke", result.broke)):
        st.markdown(f"**{title}** {len(items):,} test images (B's most confident first)")
        shown = items[:PER_COMPARE]
        read = [(labels[int(ds.y_test[i])], labels[int(pa[i].argmax())], labels[int(pb[i].argmax())]) for i in shown]
        captions = [f"true **{t}** · A {a} · B {b}" for t, a, b in read]
        image_grid(shown, ds.x_test, captions, [compared_image_alt(i, *r) for i, r in zip(shown, read)],
                   key_prefix=title)
