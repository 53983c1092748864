"""What sessions share is made by session.resources' st.cache_resource factories, and only there: one call
(harness.apptest.clear_caches) gives a test a fresh server's."""

import ast
from pathlib import Path

from harness.apptest import clear_caches
from webapp.session import resources
from webapp.session.budget import Budget
from webapp.session.downloads import Downloads
from webapp.session.once import Once
from webapp.session.results import ModelResults
from webapp.session.turns import Turns
from webapp.training.engine import Engine
from webapp.training.replay import ReplayCache

ROOT = Path(__file__).resolve().parents[3]
# What holds state sessions share, and the locks that guard such state.
HOLDERS = {cls.__name__ for cls in (Budget, Engine, Downloads, ModelResults, ReplayCache, Once, Turns)}
HOLDERS |= {"Lock", "RLock", "Condition", "Event", "Semaphore", "WeakKeyDictionary", "WeakValueDictionary"}
FACTORIES = {
    "budget": resources.budget, "downloads": resources.downloads,
    "replay_cache": resources.replay_cache, "pretrained_results": resources.pretrained_results,
    "log_once": lambda: resources.log_once("a topic"),
}


def test_each_is_made_once_and_one_call_makes_them_afresh():
    before = {name: make() for name, make in FACTORIES.items()}
    assert all(make() is before[name] for name, make in FACTORIES.items())
    assert resources.log_once("another topic") is not before["log_once"]
    clear_caches()
    assert all(make() is not before[name] for name, make in FACTORIES.items())


def test_the_engine_outlives_cleared_caches_and_follows_the_settings(monkeypatch):
    """Its workers are processes: clearing the caches must not leave them running beside a second engine."""
    engine = resources.engine()
    assert engine.address is None and engine.workers == 2 and engine.worker_memory == 2048 * 2**20
    clear_caches()
    assert resources.engine() is engine
    monkeypatch.setenv("DIGIT_LAB_ENGINE", "tcp://127.0.0.1:8786")
    monkeypatch.setenv("DIGIT_LAB_WORKER_MEMORY_MB", "0")
    clear_caches()
    other = resources.engine()
    assert other is not engine and other.address == "tcp://127.0.0.1:8786" and other.worker_memory is None
    assert other._client is None  # connected only when a run needs it


def makes_state(value):
    """True for an expression that makes state to share: a holder or a lock, or an empty container to fill."""
    if isinstance(value, ast.Call):
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        return name in HOLDERS or (name in ("set", "list", "dict") and not value.args and not value.keywords)
    if isinstance(value, (ast.List, ast.Set)):
        return not value.elts
    return isinstance(value, ast.Dict) and not value.keys


def module_globals_holding_state(path):
    """The names a module binds at its top to state it would share (makes_state)."""
    found = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and makes_state(node.value):
            found += [ast.unparse(t) for t in node.targets]
        elif isinstance(node, ast.AnnAssign) and node.value is not None and makes_state(node.value):
            found.append(ast.unparse(node.target))
    return found


# The two exceptions, each with its reason (and the docstring beside the global says it again):
EXCEPTIONS = {
    # the process's engines: processes and connections that a cleared cache would leave running
    "webapp/training/engine.py": ["_engines", "_engines_lock"],
    # datasets a task read, kept in the engine's worker processes: never in the server, never a session's
    "webapp/training/tasks.py": ["_datasets_lock"],
}


def test_no_module_keeps_what_sessions_share_in_a_global():
    kept = {str(path.relative_to(ROOT)): names for path in sorted((ROOT / "webapp").rglob("*.py"))
            if (names := module_globals_holding_state(path))}
    assert kept == EXCEPTIONS, "make these in webapp.session.resources (an st.cache_resource factory)"


def test_the_check_finds_such_globals(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import threading\nTABLE = {'a': 1}\n_SEEN: set[str] = set()\n_LOCK = threading.Lock()\n"
                      "CACHE = ReplayCache()\nSHARED = {}\nNAMES = ('a',)\n")
    assert module_globals_holding_state(module) == ["_SEEN", "_LOCK", "CACHE", "SHARED"]
