"""The Inspect page's replay of a session-trained run: its weights and test scores epoch by epoch."""

from collections.abc import Sequence

import streamlit as st

from mlp.arrays import Inputs, Ints
from webapp import images
from webapp.session import keys, resources
from webapp.session.registry import ModelEntry
from webapp.training import replay
from webapp.views import charts, display

REPLAY_EPOCH = "replay_epoch"  # the epoch slider
REPLAY_CM = "replay_cm"  # the confusion matrix at that epoch (no selection; the key keeps it apart from the page's)


def replay_section(entry: ModelEntry, x_test: Inputs, y_test: Ints, labels: Sequence[str]) -> None:
    """An epoch slider over `entry`'s run, with the test accuracy, first-layer weights and confusion matrix then.

    Draws nothing for a model without a run in this session, or with fewer than two kept epochs.
    """
    job = entry.job
    if job is None or job.model is None:
        return
    model = job.model
    stored = job.epoch_weights()
    if len(stored) < 2:
        return
    epochs = list(stored)
    ss = st.session_state
    if ss.get(REPLAY_EPOCH) not in stored:  # another model's epoch, or one thinned out since
        ss[REPLAY_EPOCH] = epochs[-1]
    st.markdown("**Watch it learn**: the model as it was after each epoch of its run in this session.")
    epoch = st.select_slider("Epoch", epochs, key=REPLAY_EPOCH)
    weights = stored[epoch]
    result = resources.replay_cache().get(
        job, epoch, lambda: replay.evaluate_epoch(model, weights, x_test, y_test, epoch))
    done = len(job.records)
    if len(epochs) < done:
        st.caption(f"{len(epochs)} of this run's {done} epochs are kept, evenly spaced, "
                   f"to hold their weights within {replay.EPOCH_WEIGHTS_BUDGET // 2**20} MB.")
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.metric(f"Test accuracy after epoch {epoch}", f"{result.accuracy:.2%}")
        w0 = weights[0]
        n_units = w0.shape[1]
        shown = min(int(ss.get(keys.W_UNITS, 64)), n_units)  # as many tiles as the Weights tab shows
        st.image(images.weight_grid(w0, range(shown), columns=16), width="stretch",
                 caption=f"First-layer weights after epoch {epoch} (units 1–{shown})",
                 alt=display.weight_tiles_alt(shown, epoch))
    with right:
        st.markdown(f"**Confusion matrix** after epoch {epoch} (rows: true, columns: predicted)")
        st.altair_chart(charts.confusion_heatmap(result.confusion_matrix, labels), key=REPLAY_CM)
