"""Train a network in the background and watch it learn, epoch by epoch."""

import streamlit as st

from data import DatasetError, DatasetNotFound
from webapp.session import keys, registry, resources
from webapp.settings import current as server_settings
from webapp.views import train, train_settings, ui

registry.init_session()
# A shared model's link: the model joins this session, ready to continue.
st.session_state[keys.LINKED_FOR_CONTINUE] = registry.follow_link()

st.title("Train a network")
train.sidebar_hint()
st.caption(
    "Choose the network and how to train it in the sidebar, then press **Start**. Training runs in "
    "the background: you can switch to Draw or Inspect and come back. Charts gain a point every "
    "epoch. **Pause** waits after the epoch under way until you **Resume**; **Stop** ends the run and "
    "keeps the model from the last finished epoch. Finished models appear in the "
    "Draw and Inspect model lists and can be downloaded."
)

with st.sidebar:
    values, slots = train.sidebar()
train.link_notice()
name = train_settings.build(values).dataset
try:
    ds = resources.dataset(name)
except (DatasetNotFound, DatasetError) as e:
    ds = None
    ui.dataset_notice(name, e)
settings = train_settings.build(values, len(ds.x_train) if ds is not None else None,
                                max_weight_bytes=server_settings().bytes("max_model_mb"))
problems = train.with_memory_problem(settings.problems, settings.config)
train.show_problems(problems, slots)

job = train.active_job()
under_way = job is not None and not job.done
st.fragment(train.run_panel, run_every=train.refresh_seconds() if under_way else None)(
    settings.config, ds, can_start=ds is not None and not problems)
if ds is not None and not under_way:
    train.continue_expander(ds)
