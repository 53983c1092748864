"""Train a network in the background and watch it learn, epoch by epoch."""

import streamlit as st

from data import DatasetError, DatasetNotFound
from mlp import TrainConfig
from mlp.augment import AugmentConfig
from webapp import charts, state
from webapp.settings import MAX_CONCURRENT_RUNS, ORPHAN_GRACE_SECONDS
from webapp.training import continue_config, parse_hidden, parse_positive_float, start_job

state.init_session()
ss = st.session_state

st.title("Train a network")
st.caption(
    "Choose the network and how to train it in the sidebar, then press **Start**. Training runs in "
    "the background: you can switch to Draw or Inspect and come back. Charts gain a point every "
    "epoch. **Pause** waits after the epoch under way until you **Resume**; **Stop** ends the run and "
    "keeps the model from the last finished epoch. Finished models appear in the "
    "Draw and Inspect model lists and can be downloaded."
)

# -- sidebar: every hyperparameter, each explained where it is wrong ---------------------------

problems = {}
notes = {}  # field -> an empty slot under its widget, filled once every problem is known


def explain(field):
    """Reserve the place right under the widget of `field` for its problem, if it has one."""
    notes[field] = st.empty()


AUG = AugmentConfig()
ACTIVATIONS = ["relu", "leaky_relu", "tanh", "sigmoid"]
OPTIMIZERS = ["adam", "momentum", "nesterov", "sgd"]
SCHEDULES = ["constant", "step", "cosine"]
# Widget key -> default. The URL may carry any of them without the "t_" (a shareable setup).
DEFAULTS = {
    "t_dataset": "mnist", "t_hidden": "256, 128", "t_activation": "relu", "t_dropout": 0.0,
    "t_optimizer": "adam", "t_lr": "0.001", "t_momentum": 0.9, "t_schedule": "constant",
    "t_step_size": 5, "t_gamma": 0.5, "t_batch": 128, "t_epochs": 10, "t_l2": 0.0, "t_val": 0.1,
    "t_use_subset": False, "t_subset": 10000, "t_patience": 0, "t_seed": 0,
    "t_augment": False, "t_aug_shift": AUG.max_shift, "t_aug_rotation": AUG.max_rotation,
    "t_aug_min_scale": AUG.min_scale, "t_aug_max_scale": AUG.max_scale, "t_aug_shear": AUG.max_shear,
    "t_aug_elastic": AUG.elastic_alpha, "t_aug_thickness": AUG.thickness_prob,
}
ALLOWED = {
    "t_dataset": ["mnist", "fashion-mnist"], "t_activation": ACTIVATIONS, "t_optimizer": OPTIMIZERS,
    "t_schedule": SCHEDULES, "t_dropout": (0.0, 0.8), "t_momentum": (0.0, 0.99), "t_step_size": (1, 100),
    "t_gamma": (0.01, 1.0), "t_batch": (1, 8192), "t_epochs": (1, 200), "t_l2": (0.0, 1.0),
    "t_val": (0.0, 0.5), "t_subset": (1, 60000), "t_patience": (0, 50), "t_seed": (0, 2**31 - 1),
    "t_aug_shift": (0.0, 4.0), "t_aug_rotation": (0.0, 30.0), "t_aug_min_scale": (0.6, 1.0),
    "t_aug_max_scale": (1.0, 1.4), "t_aug_shear": (0.0, 0.6), "t_aug_elastic": (0.0, 3.0),
    "t_aug_thickness": (0.0, 1.0),
}
state.keep_widgets(DEFAULTS, ALLOWED, url_prefix="t_")

with st.sidebar:
    st.header("Network")
    dataset_name = st.selectbox("Dataset", ALLOWED["t_dataset"], format_func=state.dataset_label, key="t_dataset")
    hidden_text = st.text_input("Hidden layer sizes", key="t_hidden",
                                help="Units per hidden layer, separated by commas. Empty: no hidden layer.")
    try:
        hidden = parse_hidden(hidden_text)
    except ValueError as e:
        hidden, problems["hidden"] = (1,), str(e)
    explain("hidden")
    activation = st.selectbox("Activation", ACTIVATIONS, key="t_activation")
    dropout = st.slider("Dropout", 0.0, 0.8, step=0.05, key="t_dropout", help="Share of hidden units dropped per batch.")

    st.header("Training")
    optimizer = st.selectbox("Optimizer", OPTIMIZERS, key="t_optimizer")
    lr_text = st.text_input("Learning rate", key="t_lr", help="For example 0.001 for Adam, 0.05 for SGD.")
    try:
        lr = parse_positive_float(lr_text, "learning rate")
    except ValueError as e:
        lr, problems["lr"] = 1e-3, str(e)
    explain("lr")
    momentum = DEFAULTS["t_momentum"]
    if optimizer in ("momentum", "nesterov"):
        momentum = st.slider("Momentum", 0.0, 0.99, step=0.01, key="t_momentum")
    schedule = st.selectbox("Learning-rate schedule", SCHEDULES, key="t_schedule")
    step_size, gamma = DEFAULTS["t_step_size"], DEFAULTS["t_gamma"]
    if schedule == "step":
        step_size = st.number_input("Step every (epochs)", 1, 100, key="t_step_size")
        gamma = st.number_input("Multiply by", 0.01, 1.0, step=0.05, key="t_gamma")
    batch_size = st.number_input("Batch size", 1, 8192, key="t_batch")
    explain("batch_size")
    epochs = st.number_input("Epochs", 1, 200, key="t_epochs")
    l2 = st.number_input("L2 weight decay", 0.0, 1.0, step=1e-5, format="%.5f", key="t_l2")
    val_fraction = st.slider("Validation fraction", 0.0, 0.5, step=0.05, key="t_val",
                             help="Held out from the training set (never the test set) to watch overfitting.")
    explain("val_fraction")
    subset = None
    if st.toggle("Train on a subset", key="t_use_subset", help="Train on fewer images to finish faster."):
        subset = st.number_input("Training images", 1, 60000, step=1000, key="t_subset")
    explain("train_subset")
    patience = st.number_input("Early stopping patience (0 = off)", 0, 50, key="t_patience",
                               help="Stop after this many epochs without a better validation loss.")
    seed = st.number_input("Seed", 0, 2**31 - 1, key="t_seed", help="Same seed, same model.")

    st.header("Augmentation")
    augment = None
    if st.toggle("Distort training images", key="t_augment",
                 help="Random shifts, rotations, scaling, slant, elastic warps and stroke width changes, "
                      "fresh for every batch: slower epochs, but a model that reads real drawings better."):
        augment = AugmentConfig(
            max_shift=st.slider("Shift (px)", 0.0, 4.0, step=0.5, key="t_aug_shift"),
            max_rotation=st.slider("Rotation (°)", 0.0, 30.0, step=1.0, key="t_aug_rotation"),
            min_scale=st.slider("Smallest size", 0.6, 1.0, step=0.05, key="t_aug_min_scale"),
            max_scale=st.slider("Largest size", 1.0, 1.4, step=0.05, key="t_aug_max_scale"),
            max_shear=st.slider("Slant", 0.0, 0.6, step=0.05, key="t_aug_shear"),
            elastic_alpha=st.slider("Elastic warp (px)", 0.0, 3.0, step=0.1, key="t_aug_elastic"),
            thickness_prob=st.slider("Thicker/thinner strokes (share)", 0.0, 1.0, step=0.05, key="t_aug_thickness"),
        )
    st.caption("The address bar carries these settings: share the link to share the setup.")
state.mirror_to_url(DEFAULTS, "t_")

config = TrainConfig(
    hidden=hidden, activation=activation, optimizer=optimizer, lr=lr, momentum=momentum,
    batch_size=int(batch_size), epochs=int(epochs), weight_decay=float(l2), dropout=float(dropout),
    schedule=schedule, step_size=int(step_size), gamma=float(gamma), val_fraction=float(val_fraction),
    patience=int(patience), train_subset=None if subset is None else int(subset), seed=int(seed), augment=augment,
)

# -- the dataset: explain plainly when it is missing ----------------------------------------------

try:
    ds = state.dataset(dataset_name)
except (DatasetNotFound, DatasetError) as e:
    ds = None
    state.offer_download(dataset_name, e)

if ds is not None:
    problems.update({k: v for k, v in config.problems(len(ds.x_train)).items() if k not in problems})
for field, message in problems.items():
    if field in notes:
        notes[field].error(message, icon=":material/warning:")
if problems:
    st.warning("Fix the settings marked in the sidebar to start: " + "; ".join(problems.values()))

# -- controls -----------------------------------------------------------------------------------

active = ss.models.get(ss.get("active_run"))
job = active.job if active is not None else None
running = job is not None and not job.done

controls = st.container(horizontal=True, vertical_alignment="center")
if controls.button("Start", type="primary", key="start", disabled=ds is None or bool(problems) or running,
                   icon=":material/play_arrow:"):
    name = state.next_model_name()
    job = start_job(name, config, ds, state.training_slots(), alive=state.session_alive(), grace=ORPHAN_GRACE_SECONDS)
    state.add_model(state.ModelEntry(name, "trained", model=job.model, job=job))
    ss.active_run = name
    st.rerun()
if running and job.pause_requested:
    if controls.button("Resume", key="resume", icon=":material/play_circle:"):
        job.resume()
        st.rerun()
elif controls.button("Pause", key="pause", disabled=not running or job.state != "running",
                     icon=":material/pause:", help="Pause after the epoch under way; Resume goes on from there."):
    job.pause()
    st.rerun()
if controls.button("Stop", key="stop", disabled=not running, icon=":material/stop:"):
    job.stop()
    job.join(timeout=1.5)
    st.rerun()
controls.caption(f"This server trains at most {MAX_CONCURRENT_RUNS} networks at a time; other runs wait in line.")


def plural(n, noun):
    """'1 epoch', '3 epochs'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@st.fragment(run_every=1.0 if running else None)
def live_panel():
    """Progress and charts of the active run; reruns itself every second while training."""
    entry = ss.models.get(ss.get("active_run"))
    if entry is None or entry.job is None:
        st.info("No training run yet. Choose settings in the sidebar and press **Start**.")
        return
    job = entry.job
    st.subheader(entry.name)
    if job.state == "queued":
        pos = job.queue_position
        st.info(f"Waiting for a free training slot: number {pos or 1} in line.")
    elif job.state == "paused":
        st.info(f"Paused after {len(job.records)} of {job.config.epochs} epochs. **Resume** goes on from there; "
                "meanwhile the model so far is in the Draw and Inspect lists.", icon=":material/pause:")
    elif job.state == "running":
        done = len(job.records)
        eta = job.eta_seconds()
        speed = f" · {job.records[-1].samples_per_second:,.0f} samples/s" if job.records else ""
        eta_text = f" · about {eta:.0f} s left" if eta is not None else ""
        pausing = " · pausing after this epoch" if job.pause_requested else ""
        st.progress(job.progress(),
                    text=f"Epoch {min(done + 1, job.config.epochs)} of {job.config.epochs}{eta_text}{speed}{pausing}")
    elif job.state == "evaluating":
        st.progress(1.0, text="Scoring the model on the test set…")
    show_outcome(entry)
    # The snapshot's history includes earlier runs of a continued model.
    history = entry.current().meta.get("history", []) if entry.current() is not None else []
    if history:
        left, right = st.columns(2)
        # Charts change once per epoch; the panel refreshes more often than that, so reuse them.
        key = (id(job), len(history))
        if ss.get("_charts_key") != key:
            ss._charts_key = key
            ss._charts = (charts.history_chart(history, "loss"), charts.history_chart(history, "accuracy"))
        left.altair_chart(ss._charts[0], width="stretch")
        right.altair_chart(ss._charts[1], width="stretch")
        last = history[-1]
        st.caption(f"{plural(len(history), 'epoch')} · last train loss {last['train_loss']:.4f}"
                   + (f" · validation accuracy {last['val_accuracy']:.2%}" if last.get("val_accuracy") is not None else ""))
    if job.done and ss.get("shown_done") != id(job):
        ss.shown_done = id(job)
        st.rerun()  # the whole page, so the buttons and model list catch up


def show_outcome(entry):
    """A one-line verdict on a finished run."""
    job = entry.job
    model = entry.current()
    acc = model.meta.get("test_accuracy") if model is not None else None
    score = f" Test accuracy **{acc:.2%}**." if isinstance(acc, float) else ""
    if job.state == "completed":
        st.success(f"Finished {plural(len(job.records), 'epoch')}.{score}")
    elif job.state == "early_stopped":
        st.success(f"Stopped early: validation loss stopped improving.{score}")
    elif job.state == "stopped":
        if job.records:
            st.warning(f"Stopped after {plural(len(job.records), 'finished epoch')}; the model keeps the last one.{score}")
        else:
            st.warning("Stopped before the first epoch finished: there is no trained model from this run.")
    elif job.state == "diverged":
        st.error(f"{job.error}{score}")
    elif job.state == "failed":
        st.error(f"Training failed: {job.error}")


live_panel()


UNDER_WAY = {"queued": "waiting for a training slot", "running": "training…", "paused": "paused",
             "evaluating": "scoring on the test set…"}


@st.fragment(run_every=2.0 if running else None)
def model_list():
    """The user's models with download buttons; refreshes while a run trains."""
    st.subheader("Your models")
    if not ss.models:
        st.caption("Models you train or upload in this session appear here. They are yours alone and vanish "
                   "with the session: download the ones you want to keep.")
    for name, entry in list(ss.models.items()):
        model = entry.current()
        cols = st.columns([3, 1])
        # A run under way is described above, live; this list refreshes less often, so no epoch count here.
        label = state.describe(entry) if entry.job is None or entry.job.done else f"{name} ({UNDER_WAY[entry.job.state]})"
        cols[0].markdown(f"**{label}**")
        if model is not None and (entry.job is None or entry.job.done or entry.job.state == "paused"):
            cols[1].download_button("Download .npz", entry.file_bytes(), file_name=f"{name.replace(' ', '_').lower()}.npz",
                                    mime="application/octet-stream", key=f"dl-{name}", icon=":material/download:")


st.divider()
model_list()
finished = {n: e for n, e in ss.models.items() if e.current() is not None and (e.job is None or e.job.done)}

trained = [n for n, e in finished.items() if e.kind in ("trained", "uploaded")]
if trained and not running and ds is not None:
    with st.expander("Continue training a model"):
        pick = st.selectbox("Model", trained, key="cont_model")
        more = st.number_input("More epochs", 1, 100, 5, key="cont_epochs")
        source = finished[pick].current()
        cont_config = continue_config(source, int(more))
        if source.meta.get("dataset", "mnist") != ds.name:
            st.caption(f"This model was trained on {source.meta.get('dataset')}; switch the dataset in the sidebar to continue it.")
        elif st.button("Continue", key="continue", icon=":material/fast_forward:"):
            entry = finished[pick]
            entry.job = start_job(pick, cont_config, ds, state.training_slots(), model=source,
                                  alive=state.session_alive(), grace=ORPHAN_GRACE_SECONDS)
            entry.model = entry.job.model
            ss.active_run = pick
            st.rerun()
