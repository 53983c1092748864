"""Page runs take turns, first come first served. No Streamlit.

The server's one Turns is made by webapp.session.resources, whose `turn()` says why Draw's runs take turns.
"""

import collections
import contextlib
import threading
from collections.abc import Iterator

__all__ = ["Turns"]


class Turns:
    """First come, first served: a page run waits until the runs that came before it are done.

    A plain lock lets a newcomer take the lock before the waiter it just woke gets going (the
    waiter needs the GIL first), so some runs waited far longer than others; here each waiter
    has its own Event, set when the run before it leaves. A waiter whose wait runs out takes the
    turn over from the slow runs ahead of it (they go on, but their end passes nothing on), so
    the runs behind it wait for it alone, not for the slow one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # One Event per run holding or awaiting the turn, in order of arrival.
        self._queue: collections.deque[threading.Event] = collections.deque()

    @contextlib.contextmanager
    def turn(self, wait: float) -> Iterator[None]:
        """Run the block when every earlier run is done, or after `wait` seconds whatever happens."""
        me = threading.Event()
        with self._lock:
            self._queue.append(me)
            if self._queue[0] is me:
                me.set()
        if not me.wait(wait):
            with self._lock:
                while me in self._queue and self._queue[0] is not me:
                    self._queue.popleft().set()  # overdue: the slow run, and any waiter as overdue as this one
        try:
            yield
        finally:
            with self._lock:
                if self._queue and self._queue[0] is me:
                    self._queue.popleft()
                    if self._queue:
                        self._queue[0].set()
                elif me in self._queue:
                    self._queue.remove(me)  # not reached as the code stands; never leave a dead entry behind

    def waiting(self) -> int:
        """Runs holding or awaiting the turn (the slow runs taken over from not counted)."""
        with self._lock:
            return len(self._queue)
