"""The Train page's sections: the settings sidebar, the run panel and Continue."""

from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from data import Dataset
from mlp import TrainConfig
from mlp import hyperparams as hp
from mlp.io import loaded_bytes
from webapp import settings, text
from webapp.session import keys, registry, resources
from webapp.session.budget import BudgetError
from webapp.training import status as run_status
from webapp.training.job import JobView, TrainingJob
from webapp.training.memory import state_bytes, worker_bytes
from webapp.training.replay import EPOCH_WEIGHTS_BUDGET
from webapp.training.start import continue_config, start_job
from webapp.training.status import plural
from webapp.views import charts, display, share, train_settings, urlstate


def sidebar() -> tuple[dict[str, object], dict[str, DeltaGenerator]]:
    """Every setting as a widget, from the hyperparameter table; returns (values, slots for problems)."""
    fields = train_settings.url_fields()
    ss = st.session_state
    refused = urlstate.restore(fields)
    if refused:  # a link's settings the sidebar cannot take: the page says which, and why (link_notice)
        ss[keys.LINK_REFUSED] = refused
    slots: dict[str, DeltaGenerator] = {}
    section = None
    for p in train_settings.widget_params():
        if p.section != section:
            section = p.section
            st.header(section)
        if p.name == "train_subset":
            st.toggle("Train on a subset", key=train_settings.USE_SUBSET,
                      help="Train on fewer images to finish faster.")
        values = {f.key: ss.get(f.key) for f in fields}
        if not train_settings.visible(p, values):
            continue
        _widget(p)
        slots["augment." + p.name if p.name in hp.AUGMENT_PARAMS else p.name] = st.empty()
    st.caption("The address bar carries these settings: share the link to share the setup.")
    urlstate.mirror(fields)
    return {f.key: ss.get(f.key) for f in fields}, slots


def _widget(p: hp.Param) -> None:
    """One setting's widget, as the table describes it."""
    k = train_settings.key(p)
    kw: dict[str, Any] = {"help": p.help or None}
    if p.widget == "select":
        label = resources.dataset_label if p is hp.DATASET else str
        st.selectbox(p.label, p.choices, key=k, format_func=label, **kw)
    elif p.widget == "text":
        st.text_input(p.label, key=k, **kw)
    elif p.widget == "toggle":
        st.toggle(p.label, key=k, **kw)
    elif p.widget == "slider":
        st.slider(p.label, p.ui_low, p.ui_high, step=p.ui_step, key=k, **kw)
    else:
        st.number_input(p.label, p.ui_low, p.ui_high, step=p.ui_step, format=p.ui_format, key=k, **kw)


# Shown while the sidebar is folded away (on a phone it starts folded): the settings are there.
# The container's wrapper goes too, or its gap would stay.
SIDEBAR_HINT_STYLE = ('<style>body:has([data-testid="stSidebar"][data-collapsed="false"]) '
                      ':is(.st-key-%s,[data-testid="stLayoutWrapper"]:has(> .st-key-%s)){display:none}</style>'
                      % (keys.SIDEBAR_HINT, keys.SIDEBAR_HINT))


def sidebar_hint() -> None:
    """A line saying where the settings are, while the sidebar is folded away (always, where no CSS runs)."""
    with st.container(key=keys.SIDEBAR_HINT):
        st.info("The settings are in the sidebar: open it with :material/keyboard_double_arrow_right: at the "
                "top left.", icon=":material/tune:")
    st.html(SIDEBAR_HINT_STYLE, width="content")


def link_notice() -> None:
    """Which of a link's settings were ignored and why, until dismissed (the sidebar shows its own values)."""
    refused = st.session_state.get(keys.LINK_REFUSED)
    if not refused:
        return
    lines = "\n".join(f"- {text.literal(r.param)} = {text.literal(display.shorten(r.text))}: "
                      f"{text.literal(display.shorten(r.reason, 120))}" for r in refused)
    what = "this setting" if len(refused) == 1 else f"these {len(refused)} settings"
    st.warning(f"The link's values for {what} could not be used, so the sidebar shows the defaults instead:\n"
               f"{lines}", icon=":material/link_off:")
    if st.button("Dismiss", key=keys.DISMISS_REFUSED, type="tertiary"):
        st.session_state[keys.LINK_REFUSED] = None
        st.rerun()


def show_problems(problems: Mapping[str, str], slots: Mapping[str, DeltaGenerator]) -> None:
    """Each problem under its widget, and all of them above the buttons."""
    for field, message in problems.items():  # a message may quote what a link typed: plain text
        if field in slots:
            slots[field].error(text.literal(message), icon=":material/warning:")
    if problems:
        listed = "; ".join(map(text.literal, problems.values()))
        st.warning(f"Fix the settings marked in the sidebar to start: {listed}")


def refresh_seconds() -> float:
    """How often the run panel refreshes: every second, or every two while runs wait for a turn (a class training
    at once: each run's epochs then come seconds apart, and thirty panels at once cost the server's CPU)."""
    engine = resources.engine()
    return 2.0 if engine.line.waiting >= engine.threads() else 1.0


def active_job() -> TrainingJob | None:
    """The run this session's Train page follows, or None."""
    entry = registry.session_models().get(st.session_state.get(keys.ACTIVE_RUN, ""))
    return entry.job if entry is not None else None


def run_cost(config: TrainConfig, n_classes: int) -> int:
    """Bytes a run of `config` will hold at most: in the server its model and the last epoch's snapshot
    (each with its gradient arrays), its kept epochs (float16, within their budget) and its state between epochs."""
    sizes = [784, *config.hidden, n_classes]
    weights = loaded_bytes(sizes, config.dtype)
    return (4 * weights + min(EPOCH_WEIGHTS_BUDGET, config.epochs * weights // 2)
            + state_bytes(sizes, config.dtype))


def with_memory_problem(problems: dict[str, str], config: TrainConfig) -> dict[str, str]:
    """`problems`, and one more if a run of `config` could never fit: in what one browser may hold of the server's
    memory (on the hidden layers), or in an embedded training worker's memory (on the batch size). Start would
    only be refused, or the run fail at its first epoch."""
    if problems:
        return problems
    s = settings.current()
    cost, limit = run_cost(config, 10), s.bytes("client_memory_mb")
    if cost > limit:
        return {"hidden": f"a run of these settings would take {cost / 2**20:,.0f} MB of the server's memory (the "
                          f"network, its copies and its training state), more than the {limit / 2**20:,.0f} MB one "
                          "browser may use: use a smaller network"}
    need, worker = worker_bytes([784, *config.hidden, 10], config.dtype, config.batch_size), s.bytes("worker_memory_mb")
    if not s.engine and worker and need > worker:
        return {"batch_size": f"training these settings would take about {need / 2**20:,.0f} MB in a training "
                              f"worker (the network and batches of {config.batch_size}), more than the "
                              f"{worker / 2**20:,.0f} MB a worker has here: use smaller batches or a smaller network"}
    return problems


def start(config: TrainConfig, ds: Dataset) -> bool:
    """Start a new run of `config` on `ds` and follow it; False (said why) if the server has no room for it."""
    try:
        registry.admit(run_cost(config, len(ds.class_names)), "this run", run=True)
    except BudgetError as e:
        st.session_state[keys.TRAIN_NOTICE] = f"Not started: {e}."
        return False
    name = registry.next_model_name()
    job = start_job(name, config, ds, resources.engine(), alive=resources.session_alive(),
                    grace=settings.current().orphan_seconds)
    registry.add_model(registry.ModelEntry(name, registry.ModelKind.TRAINED, job=job))
    st.session_state[keys.ACTIVE_RUN] = name
    registry.select_when_ready(name)  # Draw and Inspect open on it once its first epoch is done
    return True


def run_panel(config: TrainConfig, ds: Dataset, can_start: bool) -> None:
    """Buttons, live status, charts and the model list, all from one read of the run; reruns itself
    every second while a run is under way, so the buttons follow the run whatever the timing."""
    job = active_job()
    view = job.view() if job is not None else None
    ctl = run_status.controls(view)
    row = st.container(horizontal=True, vertical_alignment="center")
    if row.button("Start", type="primary", key=keys.START, disabled=not (ctl.start and can_start),
                  icon=":material/play_arrow:"):
        start(config, ds)
        st.rerun()
    # Resume, Pause and Stop are enabled only while there is a job ("and job is not None" tells the type checker).
    if ctl.resume:
        if row.button("Resume", key=keys.RESUME, icon=":material/play_circle:") and job is not None:
            job.resume()
            st.rerun()
    elif row.button("Pause", key=keys.PAUSE, disabled=not ctl.pause, icon=":material/pause:",
                    help="Pause after the epoch under way; Resume goes on from there.") and job is not None:
        job.pause()
        st.rerun()
    if row.button("Stop", key=keys.STOP, disabled=not ctl.stop, icon=":material/stop:") and job is not None:
        job.stop()
        job.join(timeout=1.5)
        st.rerun()
    s = settings.current()
    workers = "its training workers" if s.engine else plural(s.max_runs, "training worker")
    row.caption(f"Everyone's runs take turns on {workers}, an epoch at a time: the run with fewest epochs goes next.")
    notice = st.session_state.pop(keys.TRAIN_NOTICE, None)
    if notice:
        st.error(notice, icon=":material/memory:")
    _live(job, view)
    st.divider()
    _model_list(view)
    if view is not None and view.done and st.session_state.get(keys.SHOWN_DONE) != id(job):
        st.session_state[keys.SHOWN_DONE] = id(job)
        st.rerun()  # the whole page: its refresh stops, and Continue appears


def _live(job: TrainingJob | None, view: JobView | None) -> None:
    status = run_status.status(view)
    if job is None or view is None:  # (view is None exactly when job is)
        st.info(status.text)
        return
    st.subheader(text.literal(view.name))
    if status.kind == "progress":
        st.progress(status.progress or 0.0, text=status.text)  # a "progress" Status always has its fraction
    else:
        getattr(st, status.kind)(status.text, icon=status.icon)
    # The snapshot's history includes earlier runs of a continued model.
    model = registry.session_models()[view.name].current()
    history = model.meta.get("history", []) if model is not None else []
    if not history:
        return
    # Vega-Lite specs with only the rows new (charts.history_spec): the panel redraws them every second.
    left, right = st.columns(2)
    left.vega_lite_chart(spec=charts.arrow_datasets(charts.history_spec(history, "loss")), width="stretch")
    right.vega_lite_chart(spec=charts.arrow_datasets(charts.history_spec(history, "accuracy")), width="stretch")
    last = history[-1]
    loss = f" · last train loss {last['train_loss']:.4f}" if last.get("train_loss") is not None else ""
    val = f" · validation accuracy {last['val_accuracy']:.2%}" if last.get("val_accuracy") is not None else ""
    st.caption(f"{plural(len(history), 'epoch')}{loss}{val}")


def _model_list(active_view: JobView | None) -> None:
    """The user's models with download buttons; the run under way is labelled from the panel's own read."""
    st.subheader("Your models")
    models = registry.session_models()
    if not models:
        st.caption("Models you train or upload in this session appear here. They are yours alone and vanish "
                   "with the session: download the ones you want to keep, or share them by link.")
    share.show_notice()
    for name, entry in list(models.items()):
        view = active_view if active_view is not None and active_view.name == name else None
        if view is None and entry.job is not None:
            view = entry.job.view()
        label = run_status.short_label(view) or registry.describe(entry)
        model = entry.current()
        cols = st.columns([3, 2], vertical_alignment="center")
        cols[0].markdown(f"**{text.literal(label)}**")
        if model is not None and (view is None or view.done or view.state == "paused"):
            with cols[1].container(horizontal=True):
                st.download_button("Download .npz", entry.file_bytes, key=f"dl-{name}", icon=":material/download:",
                                   file_name=entry.file_name(), mime="application/octet-stream")
                share.share_model_button(entry, key=f"share-{name}")


def continue_expander(ds: Dataset) -> None:
    """Train a finished model of this session further."""
    finished = {n: e for n, e in registry.session_models().items()
                if e.current() is not None and (e.job is None or e.job.done)}
    if not finished:
        return
    linked = st.session_state.pop(keys.LINKED_FOR_CONTINUE, None)
    if linked in finished:
        st.session_state[keys.CONTINUE_MODEL] = linked  # a shared model's link opens ready to continue
    with st.expander("Continue training a model", expanded=linked in finished):
        st.caption("Trains a copy further, as a new model named \"… (continued)\": the model you pick stays "
                   "as it is.")
        pick = st.selectbox("Model", list(finished), key=keys.CONTINUE_MODEL)
        more = st.number_input("More epochs", 1, 100, 5, key=keys.CONTINUE_EPOCHS)
        entry = finished[pick]
        source = entry.require_model()
        if source.meta.get("dataset", "mnist") != ds.name:
            st.caption(f"This model was trained on {text.literal(source.meta.get('dataset'))}; "
                       "switch the dataset in the sidebar to continue it.")
        elif st.button("Continue", key=keys.CONTINUE, icon=":material/fast_forward:"):
            config = continue_config(source, int(more))
            try:
                registry.admit(run_cost(config, len(ds.class_names)), "continuing this model", run=True)
            except BudgetError as e:
                st.error(f"Not continued: {e}.", icon=":material/memory:")
                return
            # A new model: the one continued stays as it was, in every list.
            name = registry.free_name(registry.continued_name(pick))
            job = start_job(name, config, ds, resources.engine(), model=source,
                            alive=resources.session_alive(), grace=settings.current().orphan_seconds)
            registry.add_model(registry.ModelEntry(name, registry.ModelKind.TRAINED, job=job))
            st.session_state[keys.ACTIVE_RUN] = name
            registry.select_when_ready(name)
            st.rerun()
