"""Everything the server's sessions share, each made once per process by an `st.cache_resource` factory here.

One pattern for state shared across sessions. What holds it is a class in a module of its own that
knows nothing of Streamlit and is thread-safe (sessions run in threads of one server): the memory
Budget, the training Engine, Downloads, ModelResults, ReplayCache, Once, Turns, the Store. The one instance the
server uses is made by a factory below, decorated with `st.cache_resource`, and every caller asks the
factory (`resources.downloads().start(name)`); no module keeps such an object in a global. So this
module is the list of what sessions share; Streamlit makes each at most once, however many sessions
ask at the same moment; and one call, `st.cache_resource.clear()`, empties all of it, as a fresh
server has it (harness.apptest.clear_caches; tests/conftest.py does it around every test). What a
shared object keeps for a model or a run is keyed by that object, held weakly, never by its id().

Here too: what the server loads once and shares read-only (the shipped model, datasets, test-set
inputs, the pretrained model's evaluation, the drawn set), and the process-wide set-ups made once.
Failures are not cached: a missing dataset is looked up again on the next page run.

Not here: a session's own state (st.session_state: session.registry, session.keys); the settings,
read once by webapp.settings.current (functools.cache: the CLI and the store's tools read them
without Streamlit; clear_caches reads them again too); constants pure helpers memoise
(functools.cache in views.charts and views.gallery), which hold nothing a session changes. And the
lock in mlp.io around .npy header parses: it guards CPython's own process-wide parser state
(python/cpython#106905) for every user of the core, the CLI included, not anything sessions share,
so it stays with the code that parses.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import numpy as np
import streamlit as st
from numpy.typing import NDArray

from data import DATASETS, Dataset, load_dataset
from mlp import MLP, ModelFileError, load_model, to_inputs
from mlp.metrics import Evaluation
from webapp import clients, settings
from webapp.session import uploads
from webapp.session.budget import Budget
from webapp.session.downloads import Downloads
from webapp.session.once import Once
from webapp.session.reaper import Reaper
from webapp.session.results import ModelResults
from webapp.session.turns import Turns
from webapp.training import engine as engines
from webapp.training.replay import ReplayCache

if TYPE_CHECKING:
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    from drawn.score import DrawnInputs
    from webapp.store import Store


@st.cache_resource(show_spinner=False)
def one_blas_thread() -> object | None:
    """Limit the server's BLAS to one thread, once per process.

    A page run multiplies one drawing (one row) by the weights: BLAS threads only spin beside the
    other sessions' runs (measured: most of 111 ms a stroke outside Python, under load). Training
    runs in worker processes, which set their own thread count. Only in a real server: under
    AppTest the limit would leak into the test process (and change bit-for-bit training results).

    The limit is set from a thread of its own: threadpoolctl keeps the thread that first sets an
    OpenBLAS limit for good, and a page run's thread carries its session, whose models would then
    never be freed (seen: the server's first visitor's uploads outlived their session).
    """
    from streamlit.runtime import Runtime
    from threadpoolctl import threadpool_limits

    if not Runtime.exists() or type(Runtime.instance()) is not Runtime:  # AppTest mocks the runtime
        return None
    limits = []
    setter = threading.Thread(target=lambda: limits.append(threadpool_limits(limits=1, user_api="blas")),
                              name="blas-limit")
    setter.start()
    setter.join()
    return limits[0]


@st.cache_resource(show_spinner=False)
def give_freed_memory_back() -> bool:
    """Make large allocations go back to the system when freed, once per process (glibc only).

    glibc serves an allocation above its mmap threshold with its own mapping, returned to the
    system on free; but after freeing one it raises the threshold to that size (up to 32 MiB),
    so the next model's arrays come from the heaps of the server's many threads, where freed
    memory mostly stays. A fixed threshold (which turns that adjustment off) keeps every array of
    128 KiB or more in a mapping of its own: a session's models leave the process with the session.
    """
    import ctypes
    import ctypes.util

    from streamlit.runtime import Runtime

    if not Runtime.exists() or type(Runtime.instance()) is not Runtime:  # AppTest mocks the runtime
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):  # not glibc
        return False


M_MMAP_THRESHOLD, MMAP_THRESHOLD = -3, 128 * 1024  # glibc's malloc.h


@st.cache_resource(show_spinner=False)
def _reaper() -> Reaper | None:
    """The server's one Reaper (webapp.session.reaper), started on first use; None outside a real server."""
    from streamlit.runtime import Runtime

    if not Runtime.exists() or type(Runtime.instance()) is not Runtime:  # AppTest mocks the runtime
        return None
    ttl = st.get_option("server.disconnectedSessionTTL")
    return Reaper(Runtime.instance(), grace=max(1.0, ttl / 2), every=min(5.0, max(0.5, ttl / 4))).start()


@st.cache_resource(show_spinner=False)
def _uploads() -> MemoryUploadedFileManager | None:
    """Streamlit's uploaded-file manager, capped (session.uploads), once per process; None outside a real server."""
    from streamlit.runtime import Runtime

    if not Runtime.exists() or type(Runtime.instance()) is not Runtime:  # AppTest mocks the runtime
        return None
    s = settings.current()
    # `streamlit run` holds uploads in memory (the manager the cap reaches into); the runtime's type says less.
    manager = cast("MemoryUploadedFileManager", Runtime.instance().uploaded_file_mgr)
    return uploads.cap(manager, s.bytes("uploads_mb"), s.bytes("address_uploads_mb"), address_of=_session_address)


def _session_address(session_id: str) -> str | None:
    """The network a session connects from (clients' key), from its WebSocket's handshake; None if unknown."""
    from streamlit.runtime import Runtime

    client = Runtime.instance().get_client(session_id)
    context = getattr(client, "client_context", None)
    if context is None:
        return None
    ip = context.remote_ip
    peer = None if ip in ("::1", "127.0.0.1") else ip  # as st.context.ip_address reports it
    forwarded = [value for name, value in context.headers if name.lower() == "x-forwarded-for"]
    s = settings.current()
    address = clients.client_address(peer, forwarded, s.proxy_networks(), log_once(clients.UNTRUSTED_FORWARD))
    return clients.address_key(address, s.ipv6_prefix)


def cap_uploads() -> None:
    """Once per page run (cheap): the upload manager is capped before any visitor can upload."""
    _uploads()


def forget_upload(file_id: str) -> None:
    """Drop a file the page has read from Streamlit's memory (a real server only)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    manager, ctx = _uploads(), get_script_run_ctx()
    if manager is not None and ctx is not None:
        uploads.forget(manager, ctx.session_id, file_id)


def close_when_gone() -> None:
    """Once per page run: the reaper closes this session once its browser has been gone a while."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    reaper, ctx = _reaper(), get_script_run_ctx()
    if reaper is not None and ctx is not None:
        reaper.seen(ctx.session_id)


TURN_WAIT = 1.0  # seconds a page run waits for its turn before it runs anyway (beside the one taking long)


@st.cache_resource(show_spinner=False)
def _turns() -> Turns:
    """The server's one Turns (webapp.session.turns), which every session's Draw runs take."""
    return Turns()


def turn() -> contextlib.AbstractContextManager[None]:
    """A context manager: run the block in its turn among the sessions' Draw runs (Turns, TURN_WAIT).

    Every page run of the server shares one core (Python's GIL), and a run gives the GIL up
    dozens of times (each element it sends wakes the event loop): side by side, ten runs of
    25 ms each all finish about 250 ms late. Taking turns, each reading goes out as soon as its
    own 25 ms are done, and the event loop keeps sending meanwhile. A run that waits more than
    TURN_WAIT (another is computing something slow, e.g. a model's first map of the test set)
    goes ahead, and the runs after it wait for it, not for the slow one. (The teaching progress
    bar's own refresh, a fragment inside Draw's, does not take turns: it draws one bar.)
    """
    return _turns().turn(TURN_WAIT)


@st.cache_resource(show_spinner=False)
def pretrained_model() -> MLP:
    """The shipped model (read-only; inference stores nothing on it). Raises ModelFileError."""
    return load_model(settings.current().pretrained)


def pretrained_or_error() -> tuple[MLP, None] | tuple[None, str]:
    """(model, None) or (None, message) when the shipped model file is missing or bad."""
    try:
        return pretrained_model(), None
    except ModelFileError as e:
        return None, str(e)


@st.cache_resource(show_spinner="Loading the dataset…")
def dataset(name: str) -> Dataset:
    """A Dataset (uint8 arrays). Raises DatasetNotFound / DatasetError."""
    return load_dataset(name)


@st.cache_resource(show_spinner=False)
def test_inputs(name: str) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """(x_test float32 (n, 784), y_test int64) for a dataset, converted once."""
    ds = dataset(name)
    return to_inputs(ds.x_test), ds.y_test.astype("int64")


DRAWN_N, DRAWN_SEED = 2000, 0  # the drawn set of docs/real-handwriting.md and the model's metadata


@st.cache_resource(show_spinner=False)
def drawn_set(n: int, seed: int) -> DrawnInputs:
    """n pen-drawn digits (drawn.score.DrawnInputs, seeded), preprocessed as on Draw; made once per server."""
    from drawn.score import drawn_inputs

    return drawn_inputs(n, seed, dataset=dataset("mnist"))


@st.cache_resource(show_spinner="Evaluating the pretrained model on the test set…")
def pretrained_evaluation(name: str) -> Evaluation:
    """The pretrained model's Evaluation on a dataset's test set."""
    x, y = test_inputs(name)
    return pretrained_model().evaluate(x, y)


@st.cache_resource(show_spinner=False)
def pretrained_results() -> ModelResults:
    """Results derived from the pretrained model (registry.derived), kept for every session: a ModelResults."""
    return ModelResults()


@st.cache_resource(show_spinner=False)
def replay_cache() -> ReplayCache:
    """The scores of runs' kept epochs (webapp.training.replay.ReplayCache), per run: small (a confusion
    matrix each), shared by every replay of a run."""
    return ReplayCache()


@st.cache_resource(show_spinner=False)
def downloads() -> Downloads:
    """The server's dataset downloads (webapp.session.downloads.Downloads): at most one at a time, which every
    waiting page watches."""
    return Downloads()


@st.cache_resource(show_spinner=False)
def log_once(topic: str) -> Once:
    """The server's Once for `topic` (webapp.session.once): what the log was told about it, once per key, for
    at most LOG_ONCE_KEYS keys (visitors choose some of them: the addresses they connect from)."""
    return Once(most=LOG_ONCE_KEYS)


LOG_ONCE_KEYS = 20


@st.cache_resource(show_spinner=False)
def budget() -> Budget:
    """The one memory budget for every visitor's models (webapp.session.budget.Budget), from the settings."""
    s = settings.current()
    return Budget(s.bytes("memory_budget_mb"), s.bytes("client_memory_mb"), s.bytes("address_memory_mb"),
                  runs=(s.client_runs, s.address_runs))


@st.cache_resource(show_spinner=False)
def engine() -> engines.Engine:
    """The task engine every session's runs and teaches go to (webapp.training.engine): the scheduler at
    DIGIT_LAB_ENGINE, or one embedded in this server with DIGIT_LAB_MAX_RUNS workers. The process keeps
    one per settings (engines.shared): clearing the caches does not stop its workers."""
    s = settings.current()
    return engines.shared(s.engine or None, workers=s.max_runs, worker_memory=s.bytes("worker_memory_mb") or None)


def session_alive() -> Callable[[], bool]:
    """A callable telling whether this browser session is still connected (always True outside a server)."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return lambda: True
    runtime, session_id = Runtime.instance(), ctx.session_id
    return lambda: runtime.is_active_session(session_id)


def dataset_label(name: str) -> str:
    """Human name of a dataset key."""
    return {"mnist": "MNIST digits", "fashion-mnist": "Fashion-MNIST clothes"}.get(name, name)


def class_names(name: str) -> list[str]:
    """Class labels of a dataset (digits for MNIST)."""
    return list(DATASETS[name].class_names) if name in DATASETS else [str(i) for i in range(10)]


def store() -> Store | None:
    """The shared SQL store (webapp.store.Store), migrated; None while it cannot be reached (logged).

    `url` under `[connections.digit_lab]` in .streamlit/secrets.toml (any SQLAlchemy URL, e.g. a
    PostgreSQL database several replicas share) wins; else DIGIT_LAB_STORE_URL; else an SQLite file
    in the data folder. A failure is not cached: the next page run tries again.
    """
    try:
        return _store()
    except Exception:  # noqa: BLE001 - the app works without sharing; the operator reads why in the log
        logging.getLogger("digit_lab").exception("the shared store is not available")
        return None


@st.cache_resource(show_spinner=False)
def _store() -> Store:
    from webapp.store import Store, create_engine, store_url

    try:
        url = st.secrets["connections"]["digit_lab"]["url"]
    except (KeyError, FileNotFoundError, st.errors.StreamlitSecretNotFoundError):  # no secrets file, or no entry
        url = store_url()
    shared = Store(create_engine(url))
    shared.migrate()
    return shared
