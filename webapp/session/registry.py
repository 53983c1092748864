"""The models a user can pick: the shared pretrained one, and their own (trained, uploaded, opened, taught).

A user's own models live in their `st.session_state` only. Each has a random link id that the
address bar carries (`model=<id>`), so a link reopens the model it was made with in the same
session and says so plainly anywhere else. Every one counts against the server's memory budget
(webapp.session.budget), for this session's client (webapp.clients): it is admitted before it is
loaded or trained, and it leaves the budget with the session.
"""

import itertools
import re
import secrets
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import streamlit as st

from data import DATASETS, DatasetError, DatasetNotFound
from mlp import MLP, ModelFileError, load_model, model_to_bytes
from mlp.metrics import Evaluation
from webapp import clients, settings, text
from webapp.session import keys, resources
from webapp.session.budget import BudgetError
from webapp.session.results import ModelResults
from webapp.store import StoreError, StoreUnavailable
from webapp.training import status as run_status
from webapp.training.job import TrainingJob
from webapp.training.memory import model_bytes

T = TypeVar("T")

PRETRAINED = "Pretrained"
MODEL_PARAM = "model"
COMPARE_PARAM = "compare"  # Inspect's model B
# Why a link's model is not shown (keys.MISSING_LINKED_MODEL), in the words the page uses.
UNKNOWN_LINK = ("The link you opened names a model that is not available here: it was never shared (only "
                "**Share model** makes a link that works in other browsers), or it has since been removed. "
                "Showing the pretrained model instead.")
NO_STORE = ("Sharing is unavailable on this server right now, so the model this link names cannot be opened. "
            "Try the link again later; meanwhile the pretrained model is shown.")


class ModelKind(StrEnum):
    """Where a model a user can pick came from."""

    PRETRAINED = "pretrained"  # the shipped model, shared by every session
    TRAINED = "trained"  # trained (or continued) on the Train page, in this session
    UPLOADED = "uploaded"  # a .npz the user uploaded
    SHARED = "shared"  # opened from a link, out of the shared store
    TAUGHT = "taught"  # taught the user's drawings ("... + yours")


@dataclass(eq=False)
class ModelEntry:
    """A model a user can pick: the pretrained one, one they trained (maybe still training), or an upload."""

    name: str
    kind: ModelKind
    model: MLP | None = None  # for finished and uploaded models
    job: TrainingJob | None = None  # while (and after) training in this session
    link_id: str = field(default_factory=lambda: secrets.token_hex(8))  # the store's id once shared
    shared: bool = False  # in the shared store (its link works in any browser)
    # Results derived from its current model (`derived`): counted in its memory, gone with the entry.
    derived: ModelResults = field(default_factory=lambda: ModelResults(latest_only=True), repr=False)

    def __post_init__(self) -> None:
        self.kind = ModelKind(self.kind)  # a kind that is not one says so here, not in a page later

    def file_name(self) -> str:
        """The file name a download of this model gets: its name in lower case, spaces as _ and + as plus."""
        return f"{self.name.replace(' ', '_').replace('+', 'plus').lower()}.npz"

    def file_bytes(self) -> bytes:
        """The current model as a compressed .npz file (made on each call: a download, a share)."""
        return model_to_bytes(self.require_model(), compress=True)

    def current(self) -> MLP | None:
        """The MLP to use now: the finished model, or a run's last finished epoch (None before the first)."""
        if self.job is not None:
            return self.job.snapshot
        return self.model

    def require_model(self) -> MLP:
        """current(), where a model is needed: ValueError if there is none yet (a run before its first epoch)."""
        model = self.current()
        if model is None:
            raise ValueError(f"{self.name} has no model yet")
        return model

    def busy(self) -> bool:
        """True while its run trains or waits for a slot (webapp.session.budget counts a client's runs)."""
        return self.job is not None and not self.job.done

    def memory_bytes(self) -> int:
        """Bytes this model holds in the server (webapp.session.budget): weights, its run's, and cached results."""
        held = self.job.memory_bytes() if self.job is not None else 0
        if self.model is not None and (self.job is None or self.model is not self.job.model):
            held += model_bytes(self.model)
        return held + self.derived.nbytes

    @property
    def dataset(self) -> str:
        """The dataset this model was trained on ('mnist' when unknown)."""
        m = self.current() or (self.job.model if self.job is not None else None)  # a run's model before its epoch
        name = m.meta.get("dataset", "mnist") if m is not None else "mnist"  # (None once a failed run let it go)
        return name if name in DATASETS else "mnist"


def init_session() -> None:
    """Create this session's state once (guarded), before any page reads it."""
    ss = st.session_state
    if keys.MODELS not in ss:
        ss[keys.MODELS] = {}
        ss[keys.MODEL_COUNTER] = itertools.count(1)
        ss[keys.SELECTED_MODEL] = PRETRAINED
        ss[keys.CLIENT] = _identify()  # who this is, for every per-client and per-address limit


def _identify() -> clients.Client:
    """This connection's webapp.clients.Client, from its cookie and address (st.context)."""
    ctx = st.context
    s = settings.current()
    return clients.identify(ctx.cookies, ctx.headers.get_all("x-forwarded-for"), ctx.ip_address,
                            s.proxy_networks(), s.ipv6_prefix, warned=resources.log_once(clients.UNTRUSTED_FORWARD))


def client() -> clients.Client:
    """This session's webapp.clients.Client."""
    init_session()
    return st.session_state[keys.CLIENT]


def admit(cost: int, what: str = "this model", run: bool = False) -> None:
    """Raise budget.BudgetError if `cost` more bytes would not fit this client, its address or the server
    (and, for a `run`, if the client or its address has as many runs under way as allowed)."""
    if run:
        resources.budget().admit_run(client())
    resources.budget().admit(client(), cost, what)


def session_models() -> dict[str, ModelEntry]:
    """name -> ModelEntry for the models this user trained or uploaded."""
    init_session()
    return st.session_state[keys.MODELS]


def all_models() -> dict[str, ModelEntry]:
    """name -> ModelEntry for every model this user can pick, pretrained first."""
    model, _ = resources.pretrained_or_error()
    entries = {}
    if model is not None:
        entries[PRETRAINED] = ModelEntry(PRETRAINED, ModelKind.PRETRAINED, model=model, link_id="")
    entries.update(session_models())
    return entries


def add_model(entry: ModelEntry) -> ModelEntry:
    """Register a session model (counted in the memory budget while it lives), dropping the oldest finished
    ones beyond the per-session cap."""
    models = session_models()
    models[entry.name] = resources.budget().track(entry, client())
    finished = [n for n, e in models.items() if e.job is None or e.job.done]
    while len(models) > settings.current().max_session_models and finished:
        del models[finished.pop(0)]
    return entry


def drop_model(name: str) -> None:
    """Forget one of this session's models (its memory goes with it)."""
    session_models().pop(name, None)
    if st.session_state.get(keys.SELECTED_MODEL) == name:
        st.session_state[keys.SELECTED_MODEL] = PRETRAINED


def add_taught(model: MLP, base: str) -> ModelEntry:
    """Register a model taught the user's drawings, named after the model it was taught from (`base`, an
    entry name: "Pretrained + yours", numbered if taken), and select it; the ModelEntry."""
    name = free_name(taught_name(base))
    model.meta["name"] = name
    entry = add_model(ModelEntry(name, ModelKind.TAUGHT, model=model))
    select(name)
    return entry


def with_suffix(base: str, suffix: str) -> str:
    """`base` + `suffix`, the base cut so that the name, with free_name's number, stays within text.NAME_MAX
    (the store's limit, should it be shared)."""
    return base[: text.NAME_MAX - len(suffix) - 3].rstrip() + suffix


def taught_name(base: str) -> str:
    """'Pretrained' -> 'Pretrained + yours'; a taught model taught again keeps one ' + yours' ('... + yours 2' too)."""
    return with_suffix(re.sub(r" \+ yours( \d+)?$", "", base), " + yours")


def continued_name(base: str) -> str:
    """'My model 1' -> 'My model 1 (continued)'; a continued model continued again keeps one '(continued)'."""
    return with_suffix(re.sub(r" \(continued\)( \d+)?$", "", base), " (continued)")


def free_name(base: str) -> str:
    """`base`, or `base 2`, `base 3`, ... : the first name no model of this session's lists has."""
    taken = all_models()
    return next(n for n in itertools.chain([base], (f"{base} {i}" for i in itertools.count(2))) if n not in taken)


def read_upload(filename: str, data: bytes) -> MLP:
    """An uploaded .npz as an MLP, within the per-model limit and the memory budget; ModelFileError or
    BudgetError('<filename> was not loaded: <why>') if it is bad or does not fit."""
    limit = settings.current().bytes("max_model_mb")
    try:
        model = load_model(data, max_loaded_bytes=limit, shape=settings.MODEL_SHAPE)
        admit(model_bytes(model), "this model")
    except (ModelFileError, BudgetError) as e:
        raise type(e)(f"{filename} was not loaded: {str(e).removeprefix('uploaded file: ')}") from None
    return model


def upload_name(filename: object) -> str:
    """The name an upload gets: its file's name without .npz, unused in this session ("Uploaded N" if it is no
    valid name)."""
    try:
        base = text.clean_name(Path(str(filename)).stem[: text.NAME_MAX])
    except text.TextError:
        return next_model_name("Uploaded")
    return free_name(base)


def next_model_name(prefix: str = "My model") -> str:
    """A fresh name like 'My model 3' for this session."""
    models = session_models()
    while True:
        name = f"{prefix} {next(st.session_state[keys.MODEL_COUNTER])}"
        if name not in models:
            return name


def select(name: str) -> None:
    """Make `name` the model every page shows (a run waiting to be selected, select_when_ready, no longer is).

    The address bar still names the model shown before (until the selector writes the new one's
    id): marking that link as followed keeps follow_link from taking the choice back.
    """
    st.session_state[keys.SELECTED_MODEL] = name
    st.session_state[keys.SELECT_WHEN_READY] = None
    st.session_state[keys.MISSING_LINKED_MODEL] = None
    st.session_state[keys.FOLLOWED_LINK] = st.query_params.get(MODEL_PARAM)


def select_when_ready(name: str) -> None:
    """Make the run `name` just started the session's selection as soon as it has a model to show (its first
    epoch; at once for a continued model), so that Draw and Inspect open on it. Any choice made meanwhile (the
    visitor's, a link's) wins: select() cancels this."""
    st.session_state[keys.SELECT_WHEN_READY] = name


def _select_ready_run() -> None:
    """select() the run select_when_ready named, once it has a model; forget it if it ended without one."""
    ss = st.session_state
    name = ss.get(keys.SELECT_WHEN_READY)
    if name is None:
        return
    entry = session_models().get(name)
    if entry is not None and entry.current() is not None:
        select(name)
    elif entry is None or (entry.job is not None and entry.job.done):
        ss[keys.SELECT_WHEN_READY] = None


def follow_link() -> str | None:
    """Make the model the address bar names (`model=<id>`) this session's selection, if there is such a link.

    A session model with that link id is selected; otherwise the shared store is asked, and a model
    found there joins the session's models ("… (shared)"). Anything else is noted, and the page says
    plainly that the link's model is not available (the pretrained model is shown instead).
    Returns the name selected when a link was followed on this run, else None.
    """
    ss = st.session_state
    entries = all_models()
    wanted = st.query_params.get(MODEL_PARAM)
    current = entries.get(ss.get(keys.SELECTED_MODEL, ""))
    if not wanted or (current is not None and current.link_id == wanted) or ss.get(keys.FOLLOWED_LINK) == wanted:
        return None
    ss[keys.FOLLOWED_LINK] = wanted  # once per link: choosing another model afterwards is the visitor's call
    match = next((name for name, e in entries.items() if e.link_id and e.link_id == wanted), None)
    why = UNKNOWN_LINK
    if match is None:
        try:
            found = _from_store(wanted)
        except StoreError as e:
            found, why = None, str(e)
        if found is not None:
            match = add_model(found).name
    if match is not None:
        select(match)
        return match
    select(PRETRAINED if PRETRAINED in entries else next(iter(entries), PRETRAINED))
    ss[keys.MISSING_LINKED_MODEL] = why
    return None


def _from_store(model_id: str) -> ModelEntry | None:
    """A ModelEntry for a model shared through the store, or None (unknown or removed); StoreError (said why)
    when the store cannot be read, the row is damaged or the model does not fit in memory now."""
    shared = resources.store()
    if shared is None:
        raise StoreUnavailable(NO_STORE)
    try:
        got = shared.get_model(model_id, opener=client().token)
    except StoreUnavailable:
        raise StoreUnavailable(NO_STORE) from None
    except StoreError as e:
        raise StoreError(f"The model this link names cannot be opened: {e}. Showing the pretrained model "
                         "instead.") from None
    if got is None:
        return None
    model, summary, _ = got
    try:
        admit(model_bytes(model), "the link's model")
    except BudgetError as e:
        raise StoreError(f"The model this link names cannot be opened right now: {e}.") from None
    name = free_name(with_suffix(str(summary.get("name") or "Model"), " (shared)"))
    return ModelEntry(name, ModelKind.SHARED, model=model, link_id=model_id, shared=True)


def model_selector(key: str, label: str = "Model", help: str | None = None) -> ModelEntry | None:
    """A selectbox over all_models() that remembers the choice across pages and in the URL; the ModelEntry."""
    entries = all_models()
    ss = st.session_state
    if not entries:
        _, error = resources.pretrained_or_error()
        st.error(f"No model available: the pretrained model could not be loaded ({error}). "
                 "Train one on the Train page.")
        return None
    follow_link()
    _select_ready_run()
    entries = all_models()
    if ss.get(keys.SELECTED_MODEL) not in entries:
        ss[keys.SELECTED_MODEL] = next(iter(entries))
    # One choice for every page: the widget follows the session's selection.
    if ss.get(key) != ss[keys.SELECTED_MODEL]:
        ss[key] = ss[keys.SELECTED_MODEL]
    name = st.selectbox(label, list(entries), key=key, on_change=lambda: select(ss[key]),
                        format_func=lambda n: describe(entries[n]), help=help)
    ss[keys.SELECTED_MODEL] = name
    if ss.get(keys.MISSING_LINKED_MODEL):
        st.warning(ss[keys.MISSING_LINKED_MODEL], icon=":material/link_off:")
    entry = entries[name]
    if entry.link_id:
        st.query_params[MODEL_PARAM] = entry.link_id
    else:
        st.query_params.pop(MODEL_PARAM, None)
    return entry


def compare_selector(entry: ModelEntry) -> ModelEntry | None:
    """A selectbox of the other models for entry's dataset, kept in the URL as `compare=<link id>`; None if none."""
    ss = st.session_state
    entries = {n: e for n, e in all_models().items()
               if n != entry.name and e.current() is not None and e.dataset == entry.dataset}
    if not entries:
        st.query_params.pop(COMPARE_PARAM, None)
        return None
    wanted = st.query_params.get(COMPARE_PARAM)
    if keys.COMPARE_MODEL not in ss and wanted is not None:  # a shared link, on this page's first run
        match = [n for n, e in entries.items() if (e.link_id or PRETRAINED) == wanted]
        if match:
            ss[keys.COMPARE_MODEL] = match[0]
        else:
            st.warning("The link's model B is not available here (models trained or uploaded live only in the "
                       "session that made them).", icon=":material/link_off:")
    if ss.get(keys.COMPARE_MODEL) not in entries:
        ss[keys.COMPARE_MODEL] = next(iter(entries))
    name = st.selectbox("Model B", list(entries), key=keys.COMPARE_MODEL, format_func=lambda n: describe(entries[n]))
    st.query_params[COMPARE_PARAM] = entries[name].link_id or PRETRAINED
    return entries[name]


def describe(entry: ModelEntry) -> str:
    """One-line label for a model in selectors."""
    under_way = run_status.selector_label(entry.job) if entry.job is not None else None
    if under_way is not None:
        return under_way
    m = entry.current()
    acc = m.meta.get("test_accuracy") if m is not None else None
    sizes = "-".join(map(str, m.layer_sizes)) if m is not None else "?"
    suffix = f", test {acc:.2%}" if isinstance(acc, float) else ""
    return f"{entry.name} ({sizes}{suffix})"


def derived(entry: ModelEntry, what: Hashable, compute: Callable[[], T]) -> T:
    """compute(), once per entry's current model and `what` (a hashable label), computed outside any lock.

    The pretrained model's results are kept for every session (resources.pretrained_results); a session
    model's on its entry (ModelEntry.derived: counted in its memory, let go when its model changes or the
    entry goes). Either way they are kept by the model object, never by its id().
    """
    model = entry.require_model()
    results = resources.pretrained_results() if entry.kind is ModelKind.PRETRAINED else entry.derived
    return results.get(model, what, compute)


def measured_scores(entry: ModelEntry) -> dict[str, float | None]:
    """What a published model is ranked by, measured here, never taken from its file: test accuracy on its
    dataset's test set, and for a digit model accuracy on the server's pen-drawn digits (None where the data
    is not on this server)."""
    from drawn.score import score_drawn

    try:
        test = evaluation(entry).accuracy
    except (DatasetNotFound, DatasetError):
        return {"test_accuracy": None, "drawn_accuracy": None}
    drawn = None
    if entry.dataset == "mnist":
        inputs = resources.drawn_set(resources.DRAWN_N, resources.DRAWN_SEED)
        model = entry.require_model()
        drawn = derived(entry, ("drawn score", inputs.n, inputs.seed), lambda: score_drawn(model, inputs)["accuracy"])
    return {"test_accuracy": test, "drawn_accuracy": drawn}


def evaluation(entry: ModelEntry, name: str | None = None) -> Evaluation:
    """Test-set Evaluation of an entry's current model on dataset `name` (cached per entry)."""
    name = name or entry.dataset
    if entry.kind is ModelKind.PRETRAINED:
        return resources.pretrained_evaluation(name)
    model = entry.require_model()
    return derived(entry, ("evaluation", name), lambda: model.evaluate(*resources.test_inputs(name)))
