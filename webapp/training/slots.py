"""The process-wide limit on how many runs train at once, and the line of those waiting. No Streamlit.

The server holds one TrainingSlots (webapp.session.resources); every TrainingJob and teach job
queues there before it starts its worker.
"""

import threading
from collections import deque
from collections.abc import Callable

from webapp.training.signals import Signal

__all__ = ["TrainingSlots"]


class TrainingSlots:
    """At most `limit` runs train at once; the others wait in first-come order.

    With `room` (a callable: do this many more bytes fit in the server's memory budget?), the run at
    the head of the line also waits until the worker it is about to start fits (its `worker_need()`):
    a paused run keeps its worker, so workers could otherwise pile up past the budget, one epoch at a
    time. The line moves on as memory is given back (a run ends, a session closes).

    A run is any object; if it has `worker_need()` (bytes its worker will add) and `reserve_worker()`
    (count the worker from now), as a TrainingJob does, they are called while the slots' lock is held,
    so they must take no lock of their own that is held while waiting for the slots' (TrainingJob.view).
    """

    def __init__(self, limit: int = 2, room: Callable[[int], bool] | None = None) -> None:
        if limit < 1:
            raise ValueError(f"the training limit must be at least 1, got {limit}")
        self.limit = limit
        self.room = room
        self.short_of_memory = False  # the head of the line has a slot but its worker does not fit yet
        self._running: set[object] = set()
        self._waiting: deque[object] = deque()  # jobs, in order of arrival
        self._cond = threading.Condition()

    def _next(self) -> object | None:
        """The run a free slot goes to: the head of the line if its worker fits; else a paused run resuming,
        whose worker is already counted (it must not wait behind a run that waits for its memory)."""
        head = self._waiting[0]
        self.short_of_memory = not self._fits(head)
        if not self.short_of_memory:
            return head
        return next((w for w in self._waiting if getattr(w, "worker_need", lambda: None)() == 0), None)

    def _fits(self, job: object) -> bool:
        need = getattr(job, "worker_need", None)
        return self.room is None or need is None or self.room(need())

    def acquire(self, job: object, cancelled: Signal) -> bool:
        """Block until `job` may train; False if `cancelled` (Event-like) was set while waiting."""
        with self._cond:
            self._waiting.append(job)
            try:
                while True:
                    if len(self._running) < self.limit and self._next() is job:
                        break
                    if cancelled.is_set():
                        return False
                    self._cond.wait(timeout=0.2)
                self._running.add(job)
                reserve = getattr(job, "reserve_worker", None)
                if reserve is not None:
                    reserve()  # counted from now, before the next in line asks whether its worker fits
                return True
            finally:
                if job in self._waiting:
                    self._waiting.remove(job)
                self.short_of_memory = False  # the next at the head finds out for itself
                self._cond.notify_all()

    def release(self, job: object) -> None:
        """Give back the slot `job` held."""
        with self._cond:
            self._running.discard(job)
            self._cond.notify_all()

    def position(self, job: object) -> int | None:
        """1-based place in the waiting line, or None if not waiting."""
        with self._cond:
            for i, waiting in enumerate(self._waiting):
                if waiting is job:
                    return i + 1
        return None

    @property
    def running(self) -> int:
        """How many runs hold a slot now."""
        with self._cond:
            return len(self._running)
