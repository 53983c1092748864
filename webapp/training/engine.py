"""The task engine runs trains and teaches: Dask distributed, embedded in the server or at an address. No Streamlit.

    engine = Engine()                                   # embedded: a scheduler and `workers` workers started here
    engine = Engine("tcp://10.0.0.5:8786")              # or a scheduler, with workers on any machine
    future = engine.submit(tasks.train_slice, ..., key="train_slice-<run>-3", priority=-3)

Why Dask distributed: embedded (webapp/training/embedded.py: its scheduler and workers, started by the
server as child processes) it needs no server beside the app (the two set-up
commands still run everything), and the same client takes a scheduler's address to use workers on other
machines (`dask scheduler`, `dask worker`: deploy/). Its scheduler runs the waiting task of highest
`priority` first, which is all fairness needs: a run is a chain of one-epoch tasks
(webapp/training/tasks.py), each submitted with priority minus the epochs the run has done, so a
run that has had no epoch goes before every run that has had one (round robin, across every server
that shares the scheduler). A run's state travels with its tasks as bytes (mlp.resume), so a paused
run holds no worker and no share, and a task lost with its worker is run again on another by the
scheduler. Progress comes back as scheduler events (`log_event` in the task, one subscription
here), Stop goes out as a `distributed.Event` the task polls. Celery or RQ would need a broker
beside the app even on one machine; Ray is heavier and less at home embedded in a web server.

The app-side `Line` is what the server knows of its own runs' turns: places in line and a
measured time per slice, for the wait a page shows.
"""

from __future__ import annotations

import atexit
import itertools
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

__all__ = ["PROGRESS_TOPIC", "Engine", "EngineError", "Flag", "Line", "shared"]

#: The scheduler event topic tasks report progress on: (task's tag, batches done, batches in the epoch).
PROGRESS_TOPIC = "digit-lab-progress"

THREADS_SECONDS = 5.0  # how long a count of the workers' threads is used before the scheduler is asked again
CONNECT_SECONDS = 5  # how long a scheduler at an address may take to answer before a run fails with a message

Listener = Callable[[int, int], None]


class Flag(StrEnum):
    """A run's flags, one distributed.Event each, set by the server's relay and polled by the run's tasks."""

    STOP = "stop"  # the task under way ends after its batch
    PAUSE = "pause"  # the slice under way ends after its epoch

    def event_name(self, run: str) -> str:
        """The Event's name for run `run`: the one name both sides use."""
        return f"{self.value}-{run}"


class EngineError(RuntimeError):
    """The engine could not be started or reached; the message suits a visitor."""


class Line:
    """This server's tasks waiting for a worker, in the engine's order: highest priority, then first come.

    `enter` when a task is submitted, `leave` when it starts (its first progress event) or ends. The
    mean of recent slices' seconds (`measured`) turns a place in line into an estimated wait.
    """

    def __init__(self, workers: Callable[[], int]) -> None:
        self._workers = workers
        self._waiting: dict[object, tuple[int, int]] = {}  # run -> (priority, arrival)
        self._arrivals = itertools.count()
        self._seconds: list[float] = []
        self._lock = threading.Lock()

    def enter(self, run: object, priority: int) -> None:
        """`run` submitted a task of `priority`."""
        with self._lock:
            self._waiting[run] = (priority, next(self._arrivals))

    def leave(self, run: object) -> None:
        """`run`'s task started or ended."""
        with self._lock:
            self._waiting.pop(run, None)

    def measured(self, seconds: float) -> None:
        """A slice took `seconds` of a worker's time."""
        with self._lock:
            self._seconds = [*self._seconds[-19:], seconds]

    def position(self, run: object) -> int | None:
        """1-based place of `run`'s waiting task, or None if it has none waiting."""
        with self._lock:
            mine = self._waiting.get(run)
            if mine is None:
                return None
            return 1 + sum(1 for p, a in self._waiting.values() if p > mine[0] or (p == mine[0] and a < mine[1]))

    def wait_seconds(self, run: object) -> float | None:
        """About how long until `run`'s waiting task starts: the slices ahead, shared by the workers; None
        before a slice was measured or when it has none waiting."""
        place = self.position(run)
        with self._lock:
            if place is None or not self._seconds:
                return None
            per_slice = sum(self._seconds) / len(self._seconds)
        return place * per_slice / max(1, self._workers())

    @property
    def waiting(self) -> int:
        """How many of this server's tasks wait for a worker."""
        with self._lock:
            return len(self._waiting)


class Engine:
    """A Dask client, started on first use: to a scheduler at `address`, or to an EmbeddedCluster it starts.

    Embedded: `workers` worker processes with one thread each (a run is NumPy in one thread), each
    restarted by its nanny past `worker_memory` bytes (None: no limit). Thread-safe.
    """

    def __init__(self, address: str | None = None, *, workers: int = 2, worker_memory: int | None = None) -> None:
        if workers < 1:
            raise ValueError(f"an engine needs at least one worker, got {workers}")
        self.address, self.workers, self.worker_memory = address or None, workers, worker_memory
        self.line = Line(self.threads)
        self._client: Any = None
        self._cluster: Any = None
        self._listeners: dict[str, Listener] = {}
        self._threads, self._threads_at = workers, -THREADS_SECONDS
        self._lock = threading.Lock()

    def client(self) -> Any:
        """The distributed.Client, connecting (or starting the embedded cluster) on first use."""
        with self._lock:
            if self._client is not None and self.address is not None and self._client.status in ("closing", "closed"):
                # A scheduler at an address went away for longer than the client waits to reconnect (5 s), and
                # the client closed itself: connect again, so a restarted scheduler is used without restarting
                # this server (deploy/, docs/deploy.md). Runs under way then had failed with a message.
                self._client = None
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> Any:
        from distributed import Client

        from webapp.training.embedded import EmbeddedCluster

        try:
            if self.address is not None:
                client = Client(self.address, timeout=CONNECT_SECONDS, set_as_default=False)
            else:
                self._cluster = EmbeddedCluster(self.workers, self.worker_memory)
                client = Client(self._cluster.address, timeout=CONNECT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError) as e:
            where = f"at {self.address}" if self.address else "in this server"
            raise EngineError(f"the training engine {where} could not be reached ({type(e).__name__}: {e})") from e
        client.subscribe_topic(PROGRESS_TOPIC, self._on_progress)
        return client

    @property
    def connected(self) -> bool:
        """True once a client has been made (and not closed)."""
        return self._client is not None

    def threads(self) -> int:
        """Threads the engine's workers have (what runs at once), asked of the scheduler at most every
        THREADS_SECONDS (pages ask on every refresh); the embedded count before it starts."""
        client = self._client
        if client is None:
            return self.workers
        now = time.monotonic()
        if now - self._threads_at >= THREADS_SECONDS:
            try:
                self._threads = sum(client.nthreads().values()) or self.workers
            except Exception:  # noqa: BLE001 - a figure for an estimate; the run itself reports a lost engine
                self._threads = self.workers
            self._threads_at = now
        return self._threads

    def submit(self, fn: Callable[..., Any], *args: object, key: str, priority: int) -> Any:
        """`fn(*args)` as a task named `key` (unique), run before waiting tasks of lower priority."""
        return self.client().submit(fn, *args, key=key, priority=priority, pure=False, retries=1)

    def listen(self, tag: str, listener: Listener | None) -> None:
        """Call `listener(done, total)` on each progress event of the task tagged `tag` (None: stop listening)."""
        with self._lock:
            if listener is None:
                self._listeners.pop(tag, None)
            else:
                self._listeners[tag] = listener

    def _on_progress(self, event: tuple[float, Any]) -> None:
        """The subscription's handler (on the client's event loop): hand the event to its run's listener."""
        try:
            tag, done, total = event[1]
        except (TypeError, ValueError):
            return
        with self._lock:
            listener = self._listeners.get(tag)
        if listener is not None:
            listener(done, total)

    def flag(self, flag: Flag, run: str) -> Any:
        """The distributed.Event of `run`'s `flag`, which its tasks poll (a cleared Event the scheduler forgets)."""
        from distributed import Event

        return Event(flag.event_name(run), client=self.client())

    def close(self) -> None:
        """Disconnect, and stop the embedded cluster's workers."""
        with self._lock:
            client, cluster, self._client, self._cluster = self._client, self._cluster, None, None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


_engines: dict[tuple[str | None, int, int | None], Engine] = {}
_engines_lock = threading.Lock()


def shared(address: str | None = None, *, workers: int = 2, worker_memory: int | None = None) -> Engine:
    """The process's one Engine for these settings, made on first call and closed when the process exits.

    Not an st.cache_resource of its own (webapp.session.resources asks this): an engine is processes and
    connections of the operating system, which a cleared cache would leave running (tests clear the
    caches around every test); made again only for other settings.
    """
    key = (address or None, workers, worker_memory)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = Engine(address, workers=workers, worker_memory=worker_memory)
        return engine


@atexit.register
def _close_all() -> None:
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        try:
            engine.close()
        except Exception:  # noqa: BLE001 - the process is ending; nothing to tell anyone
            pass
