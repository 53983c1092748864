"""Inspect's Calibration section: does the model's confidence match how often it is right?

A reliability diagram and the expected calibration error (mlp.calibration) on the model's test
set, and for MNIST models on pen-drawn digits too. The test set's figures come from the cached
evaluation; the drawn set is generated once per server (18 s for 2,000 here) and only when its
tab is opened, and each model's figures on it are kept per model (registry.derived).
"""

import numpy as np
import streamlit as st

from mlp.arrays import Ints
from mlp.calibration import Reliability, describe, reliability
from mlp.metrics import Evaluation
from webapp.session import keys, registry, resources
from webapp.session.registry import ModelEntry
from webapp.views import charts

N_BINS = 15
DRAWN_N, DRAWN_SEED = resources.DRAWN_N, resources.DRAWN_SEED  # (a test makes DRAWN_N smaller here)
TABS = ("MNIST test", "Drawn digits")

EXPLAIN = (
    "A model is **calibrated** when its confidence can be taken at its word: when it says 90%, it is right "
    "about 90% of the time. Each bar gathers the images whose top probability falls in one confidence bin "
    "and is as tall as the fraction of them read correctly; on the dashed diagonal the two agree. A bar "
    "below the diagonal is over-confident, one above it under-confident; fainter bars hold fewer images "
    "(hover a bar for its count). The **expected calibration error** (ECE) is the gap between bars and "
    "diagonal, averaged over images: 0 is perfect."
)


def test_reliability(entry: ModelEntry, ev: Evaluation, y_test: Ints) -> Reliability:
    """Reliability of entry's current model on its test set, from its Evaluation's probabilities (kept per model)."""
    return registry.derived(entry, ("calibration", entry.dataset, N_BINS),
                            lambda: reliability(ev.probabilities, y_test, N_BINS))


def drawn_reliability(entry: ModelEntry, n: int | None = None, seed: int | None = None) -> Reliability:
    """Reliability of entry's current model on the drawn set (generated once per server, kept per model)."""
    n, seed = n or DRAWN_N, DRAWN_SEED if seed is None else seed
    model = entry.require_model()
    # The server's drawn set (made once, seconds); the reliability on it is this model's (registry.derived).
    inputs = resources.drawn_set(n, seed)
    return registry.derived(entry, ("calibration-drawn", n, seed, N_BINS),
                            lambda: reliability(model.predict_proba(inputs.x), inputs.labels, N_BINS))


def section(entry: ModelEntry, ev: Evaluation, y_test: Ints) -> None:
    """The explanation and, per set, the diagram and its figures; only the open tab is computed."""
    st.markdown(EXPLAIN)
    if entry.dataset != "mnist":
        show(test_reliability(entry, ev, y_test), f"{resources.dataset_label(entry.dataset)} test",
             "test images")
        st.caption("The drawn set is pen-drawn digits, so it only applies to models trained on MNIST.")
        return
    tabs = st.tabs(TABS, key=keys.CALIBRATION_TAB, on_change="rerun")
    if tabs[0].open:
        with tabs[0]:
            show(test_reliability(entry, ev, y_test), "MNIST test", "test images")
    if tabs[1].open:
        with tabs[1]:
            with st.spinner(f"Drawing {DRAWN_N:,} digits with a pen and reading them (about 20 s, once per server)…"):
                rel = drawn_reliability(entry)
            show(rel, "drawn digits", "digits drawn with a pen on the canvas (from MNIST test digits), "
                 "through the Draw page's preprocessing")


def show(rel: Reliability, name: str, what: str) -> None:
    """Figures, the diagram and the verdict in words for one Reliability."""
    c = st.columns(3)
    c[0].metric(f"ECE on {name}", f"{rel.ece:.2%}",
                help="Expected calibration error: |right − confidence| per bin, weighted by the bin's images.")
    c[1].metric("Mean confidence", f"{rel.mean_confidence:.2%}")
    c[2].metric("Right", f"{rel.overall_accuracy:.2%}")
    st.vega_lite_chart(spec=charts.reliability_diagram(rel), width="stretch")
    st.markdown(describe(rel))
    top = rel.count[-1] / rel.n
    filled = np.flatnonzero(rel.count)
    worst = filled[np.abs(rel.accuracy - rel.confidence)[filled].argmax()]
    st.caption(f"{rel.n:,} {what}, in {rel.n_bins} bins of {1 / rel.n_bins:.1%} confidence; {top:.1%} of them "
               f"are in the top bin. The largest gap of one bin is {rel.mce:.1%} "
               f"({rel.edges[worst]:.0%}–{rel.edges[worst + 1]:.0%}, {_images(rel.count[worst])}).")


def _images(n: int) -> str:
    return "1 image" if n == 1 else f"{n:,} images"
