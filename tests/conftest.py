"""Shared fixtures. Real MNIST comes from $MLP_DATA_DIR (CI sets it to ../shared).

A test run leaves the checkout as it found it: the run's store is an SQLite file in a temporary
folder (DIGIT_LAB_STORE_URL, which in-process pages and the servers tests start inherit), the
browser tests' screenshots go to pytest's temporary folder (or `--screenshots DIR`), and at the end
the run fails if it left files in the checkout (`checkout_files`, compared before and after).
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from needs import chromium_path, missing

ROOT = Path(__file__).resolve().parent.parent
# Scratch that tools keep in a checkout (all in .gitignore): pytest's cache, Python's bytecode,
# an editable install's metadata, ruff's and mypy's caches.
SCRATCH = (".pytest_cache/", "__pycache__/", ".egg-info/", ".ruff_cache/", ".mypy_cache/")
_BEFORE = pytest.StashKey[dict]()
_LEFT = pytest.StashKey[list]()


def pytest_addoption(parser):
    parser.addoption("--screenshots", metavar="DIR",
                     help="keep the browser tests' screenshots in DIR (default: in pytest's temporary folder)")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Under xdist, the slow modules first; and keep @pytest.mark.xdist_group's promise: one worker runs a
    group's tests (so they share a server).

    --dist loadgroup groups the tests whose id ends in "@<group>". pytest-xdist 3.8 appends it by
    setting item._nodeid, which pytest 9 no longer reads (the id is item._id): without this every
    group was silently spread over the workers, each starting its own server. A no-op where xdist
    did it (the id already ends in "@...").
    """
    if not hasattr(config, "workerinput"):
        return
    # The modules that start a server or a browser first, each kept whole (its module fixtures are made
    # once): the tail of the run is then quick tests that even out the workers' loads, not one worker
    # alone with a two-minute browser test while the other idles. (xdist hands out the groups first,
    # the largest first, then the tests in this order.)
    weight = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        weight[module] = min(weight.get(module, 2), 0 if item.get_closest_marker("browser") else
                             1 if item.get_closest_marker("slow") else 2)
    items.sort(key=lambda item: weight[item.nodeid.split("::", 1)[0]])
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                         for m in item.iter_markers("xdist_group")})
        if groups and item.nodeid.rfind("@") <= item.nodeid.rfind("]"):
            grouped = f"{item.nodeid}@{'_'.join(groups)}"
            item._id = NodeId.parse(grouped)
            assert item.nodeid == grouped, f"cannot put {item.nodeid} in its xdist group"


@pytest.fixture(scope="session", autouse=True)
def throwaway_store(tmp_path_factory):
    """The run's store: an SQLite file in a temporary folder, never data/digit_lab.sqlite nor a developer's own.

    Set in this process's environment, so the pages under AppTest and every server a test starts
    (harness.start_app passes the environment on) use it. The developer's other DIGIT_LAB_* settings
    (limits, quotas) are left out too: every test starts from the defaults. A test that needs an
    empty store uses `empty_store`; one that needs a store elsewhere (PostgreSQL, a broken path)
    sets DIGIT_LAB_STORE_URL itself (monkeypatch, or start_app's env). One file per xdist worker.
    """
    from webapp import settings
    from webapp.store import default_url

    patch = pytest.MonkeyPatch()
    for name in list(os.environ):
        if name.upper().startswith("DIGIT_LAB_") and not name.upper().startswith("DIGIT_LAB_TEST_"):
            patch.delenv(name)
    url = default_url(tmp_path_factory.mktemp("store"))
    patch.setenv("DIGIT_LAB_STORE_URL", url)
    settings.current.cache_clear()
    yield url
    patch.undo()
    settings.current.cache_clear()


@pytest.fixture(autouse=True)
def fresh_server():
    """Every test starts and ends with what a fresh server shares between sessions: all of it is made by
    webapp.session.resources' st.cache_resource factories, which harness.apptest.clear_caches empties in
    one call (with the settings). Before anything imported Streamlit there is nothing to empty."""
    _clear_shared()
    yield
    _clear_shared()


def _clear_shared():
    if "streamlit" in sys.modules:
        from harness.apptest import clear_caches

        clear_caches()


@pytest.fixture
def empty_store(tmp_path, monkeypatch):
    """An empty SQLite store for this test alone (the run's store holds what earlier tests shared), with the
    process-wide caches emptied before and after, as on a fresh server; its URL. Sessions opened one after
    another in the test share it, as two browsers share a server."""
    from harness.apptest import clear_caches

    url = f"sqlite:///{tmp_path}/store.sqlite"
    monkeypatch.setenv("DIGIT_LAB_STORE_URL", url)
    clear_caches()
    yield url
    clear_caches()


@pytest.fixture(scope="session")
def screenshots(request, tmp_path_factory):
    """The folder for screenshots a person may look at: --screenshots DIR, else this run's temporary folder."""
    chosen = request.config.getoption("screenshots")
    folder = request.config.invocation_params.dir / chosen if chosen else tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST Dataset; skipped where it is absent, but a failure under CI."""
    from data import DatasetNotFound, load_dataset

    try:
        return load_dataset("mnist")
    except DatasetNotFound as e:
        missing(f"MNIST not available: {e}")


@pytest.fixture(scope="session")
def mnist_dir(mnist):
    """The directory holding the real MNIST files (same skip/fail rules as `mnist`)."""
    return Path(mnist.source).resolve()


@pytest.fixture(scope="session")
def mnist_small(mnist):
    """(x_train, y_train, x_test, y_test): 5,000 training and 2,000 test images as float32 inputs."""
    from mlp import to_inputs

    return (
        to_inputs(mnist.x_train[:5000]),
        mnist.y_train[:5000].astype(np.int64),
        to_inputs(mnist.x_test[:2000]),
        mnist.y_test[:2000].astype(np.int64),
    )


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium driven by Playwright, one per test module; skipped where it is absent, a failure under CI."""
    from playwright.sync_api import sync_playwright

    from harness import CHROMIUM_ARGS

    path = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# -- the checkout as the run found it -------------------------------------------------------------


def checkout_files():
    """{path: modification time} of the checkout's untracked and ignored files (tools' scratch left out);
    None outside a git checkout."""
    try:
        listing = subprocess.run(["git", "status", "--porcelain=v1", "-z", "--ignored", "--untracked-files=all"],
                                 cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    files = {}
    for entry in listing.decode(errors="surrogateescape").split("\0"):
        status, path = entry[:2], entry[3:]
        if status not in ("??", "!!") or any(part in f"/{path}" for part in SCRATCH):
            continue
        try:
            files[path] = (ROOT / path).stat().st_mtime_ns
        except OSError:
            files[path] = None
    return files


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the main process, not an xdist worker
        before = checkout_files()
        if before is not None:
            session.config.stash[_BEFORE] = before


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    before = config.stash.get(_BEFORE, None)
    if before is None:
        return
    allowed = config.getoption("screenshots")
    allowed = (config.invocation_params.dir / allowed).resolve() if allowed else None
    left = sorted(path for path, mtime in (checkout_files() or {}).items()
                  if before.get(path, 0) != mtime and not (allowed and (ROOT / path).resolve().is_relative_to(allowed)))
    if left:
        config.stash[_LEFT] = left
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config):
    left = config.stash.get(_LEFT, None)
    if left:
        terminalreporter.section("the run left files in the checkout", sep="=", red=True, bold=True)
        terminalreporter.line("Tests must write into their tmp_path (or the session's throwaway store); these were "
                              "made or changed in the checkout during the run:")
        for path in left[:50]:
            terminalreporter.line(f"  {path}")
        if len(left) > 50:
            terminalreporter.line(f"  ... and {len(left) - 50} more")
