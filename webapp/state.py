"""Process-wide cached resources and each user's own models (the model registry).

Datasets, the pretrained model and its test-set evaluation are loaded once per
server process (`st.cache_resource`) and shared read-only by every session.
Models a user trains or uploads live in that user's `st.session_state` only.
"""

import itertools
from dataclasses import dataclass, field
import streamlit as st

from data import DATASETS, DownloadError, download_dataset, load_dataset
from mlp import ModelFileError, load_model, model_to_bytes, to_inputs

from . import settings
from .jobs import TrainingSlots

PRETRAINED = "Pretrained"


# -- shared, loaded once per process ----------------------------------------------------


@st.cache_resource(show_spinner=False)
def pretrained_model():
    """The shipped model (read-only; inference stores nothing on it). Raises ModelFileError."""
    return load_model(settings.PRETRAINED_PATH)


def pretrained_or_error():
    """(model, None) or (None, message) when the shipped model file is missing or bad."""
    try:
        return pretrained_model(), None
    except ModelFileError as e:
        return None, str(e)


@st.cache_resource(show_spinner="Loading the dataset…")
def dataset(name):
    """A Dataset (uint8 arrays). Raises DatasetNotFound / DatasetError; failures are not cached."""
    return load_dataset(name)


@st.cache_resource(show_spinner=False)
def test_inputs(name):
    """(x_test float32 (n, 784), y_test) for a dataset, converted once."""
    ds = dataset(name)
    return to_inputs(ds.x_test), ds.y_test.astype("int64")


@st.cache_resource(show_spinner="Evaluating the pretrained model on the test set…")
def pretrained_evaluation(name):
    """The pretrained model's Evaluation on a dataset's test set."""
    x, y = test_inputs(name)
    return pretrained_model().evaluate(x, y)


@st.cache_resource(show_spinner=False)
def training_slots():
    """The one limiter shared by every session's training runs."""
    return TrainingSlots(settings.MAX_CONCURRENT_RUNS)


def session_alive():
    """A callable telling whether this browser session is still connected (always True outside a server)."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return lambda: True
    runtime, session_id = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(session_id)


def dataset_label(name):
    """Human name of a dataset key."""
    return {"mnist": "MNIST digits", "fashion-mnist": "Fashion-MNIST clothes"}.get(name, name)


def class_names(name):
    """Class labels of a dataset (digits for MNIST)."""
    return list(DATASETS[name].class_names) if name in DATASETS else [str(i) for i in range(10)]


# -- per session ---------------------------------------------------------------------------


@dataclass(eq=False)
class ModelEntry:
    """A model a user can pick: the pretrained one, one they trained (maybe still training), or an upload."""

    name: str
    kind: str  # "pretrained" | "trained" | "uploaded"
    model: object = None  # MLP, for finished and uploaded models
    job: object = None  # TrainingJob, while (and after) training in this session
    evaluations: dict = field(default_factory=dict, repr=False)  # (dataset, model id) -> Evaluation
    _file: tuple = field(default=(None, b""), repr=False)  # (id of the model, its .npz bytes)

    def file_bytes(self):
        """The current model as .npz bytes, serialised once per model version."""
        model = self.current()
        if self._file[0] != id(model):
            self._file = (id(model), model_to_bytes(model))
        return self._file[1]

    def current(self):
        """The MLP to use now: the finished model, or a running job's last finished epoch (None if none yet)."""
        if self.job is not None:
            return self.job.snapshot if not self.job.done else (self.job.snapshot or self.model)
        return self.model

    @property
    def dataset(self):
        """The dataset this model was trained on ('mnist' when unknown)."""
        m = self.current() or (self.job.model if self.job is not None else None)
        name = m.meta.get("dataset", "mnist") if m is not None else "mnist"
        return name if name in DATASETS else "mnist"


def init_session():
    """Create this session's state once (guarded), before any page reads it."""
    ss = st.session_state
    if "models" not in ss:
        ss.models = {}  # name -> ModelEntry (trained and uploaded)
        ss.model_counter = itertools.count(1)
        ss.selected_model = PRETRAINED


def all_models():
    """name -> ModelEntry for every model this user can pick, pretrained first."""
    init_session()
    model, _ = pretrained_or_error()
    entries = {PRETRAINED: ModelEntry(PRETRAINED, "pretrained", model=model)} if model is not None else {}
    entries.update(st.session_state.models)
    return entries


def add_model(entry):
    """Register a session model, dropping the oldest finished ones beyond the per-user cap."""
    init_session()
    models = st.session_state.models
    models[entry.name] = entry
    finished = [n for n, e in models.items() if e.job is None or e.job.done]
    while len(models) > settings.MAX_SESSION_MODELS and finished:
        del models[finished.pop(0)]
    return entry


def read_upload(filename, data, max_mb):
    """An uploaded .npz as an MLP; ModelFileError('<filename> was not loaded: <why>') if it is bad."""
    try:
        return load_model(data, max_bytes=max_mb * 1_000_000)
    except ModelFileError as e:
        raise ModelFileError(f"{filename} was not loaded: {str(e).removeprefix('uploaded file: ')}") from None


def next_model_name(prefix="My model"):
    """A fresh name like 'My model 3' for this session."""
    init_session()
    while True:
        name = f"{prefix} {next(st.session_state.model_counter)}"
        if name not in st.session_state.models:
            return name


def model_selector(key, label="Model", help=None):
    """A selectbox over all_models() that remembers the choice across pages; returns the ModelEntry."""
    entries = all_models()
    names = list(entries)
    ss = st.session_state
    if not entries:
        _, error = pretrained_or_error()
        st.error(f"No model available: the pretrained model could not be loaded ({error}). Train one on the Train page.")
        return None
    if ss.get("selected_model") not in entries:
        ss.selected_model = names[0]
    # One choice for every page: the widget follows the session's selection.
    if ss.get(key) != ss.selected_model:
        ss[key] = ss.selected_model

    def remember():
        ss.selected_model = ss[key]

    name = st.selectbox(label, names, key=key, on_change=remember, format_func=lambda n: describe(entries[n]), help=help)
    ss.selected_model = name
    return entries[name]


def describe(entry):
    """One-line label for a model in selectors."""
    if entry.job is not None and not entry.job.done:
        epochs = len(entry.job.records)
        doing = "paused at" if entry.job.state == "paused" else "training…"
        return f"{entry.name} ({doing} {epochs}/{entry.job.config.epochs} epochs)"
    m = entry.current()
    acc = m.meta.get("test_accuracy") if m is not None else None
    sizes = "-".join(map(str, m.layer_sizes)) if m is not None else "?"
    suffix = f", test {acc:.2%}" if isinstance(acc, float) else ""
    return f"{entry.name} ({sizes}{suffix})"


def evaluation(entry, name=None):
    """Test-set Evaluation of an entry's current model on dataset `name` (cached per entry)."""
    name = name or entry.dataset
    if entry.kind == "pretrained":
        return pretrained_evaluation(name)
    model = entry.current()
    key = (name, id(model))
    if key not in entry.evaluations:
        x, y = test_inputs(name)
        entry.evaluations = {key: model.evaluate(x, y)}
    return entry.evaluations[key]


def offer_download(name, error):
    """Say plainly that a dataset is missing and offer to download it (the rest of the app keeps working)."""
    label = dataset_label(name)
    st.warning(f"**{label} is not available on this server**, so training and test-set views need it first.")
    with st.expander("Details and other ways to fix it"):
        st.code(str(error), language=None)
    if st.button(f"Download {label} (about 30–55 MB)", key=f"download-{name}", icon=":material/download:"):
        bar = st.progress(0.0, text="Starting the download…")

        def progress(filename, done, total):
            fraction = min(1.0, done / total) if total else 0.0
            bar.progress(fraction, text=f"{filename}: {done / 1e6:.1f} MB")

        try:
            download_dataset(name, progress=progress)
        except (DownloadError, OSError) as e:
            st.error(f"The download failed, and nothing was saved: {e}")
        else:
            st.rerun()


def keep_widgets(defaults, allowed=None, url_prefix=None):
    """Initialise widget values before the widgets are drawn, and keep them across pages.

    Streamlit forgets the state of widgets on pages not shown, so a visit to another page
    would reset them; a shadow copy under "_kept_<key>" brings them back. On a session's first
    visit, keys named url_prefix + param are read from the URL query (TensorFlow Playground
    style), checked against `allowed` (a list of options or a (low, high) range) and the
    default's type; anything else falls back to the default.
    """
    ss = st.session_state
    allowed = allowed or {}
    for key, default in defaults.items():
        saved = f"_kept_{key}"
        if key in ss:
            ss[saved] = ss[key]
            continue
        value = ss.get(saved, default)
        if saved not in ss and url_prefix is not None and key.startswith(url_prefix):
            value = _from_url(key[len(url_prefix):], default, allowed.get(key))
        ss[key] = ss[saved] = value


def _from_url(param, default, allowed):
    raw = st.query_params.get(param)
    if raw is None:
        return default
    try:
        value = type(default)(raw) if not isinstance(default, bool) else raw == "true"
    except ValueError:
        return default
    if isinstance(allowed, list) and value not in allowed:
        return default
    if isinstance(allowed, tuple) and not allowed[0] <= value <= allowed[1]:
        return default
    return value


def mirror_to_url(defaults, url_prefix):
    """Write the non-default values of `defaults`' widgets into the URL query, so a link reproduces them."""
    ss = st.session_state
    for key, default in defaults.items():
        param = key[len(url_prefix):]
        value = ss.get(key, default)
        if value == default:
            st.query_params.pop(param, None)
        elif st.query_params.get(param) != str(value):
            st.query_params[param] = str(value)
