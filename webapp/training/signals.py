"""The Event-like signal a training run polls: Stop (pressed, or its owner long gone). No Streamlit."""

import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Signal", "StopSignal"]


class Signal(Protocol):
    """Anything with threading.Event's is_set()."""

    def is_set(self) -> bool:
        """True once the signal is given."""
        ...


class StopSignal:
    """Event-like: set when Stop was pressed, or when the owner has been gone for `grace` seconds.

    A closed tab cannot press Stop, so `alive()` (is the user's session still connected?) is
    polled; a short network blip does not count, only an absence longer than the grace period.
    """

    def __init__(self, alive: Callable[[], bool] | None, grace: float) -> None:
        self.event = threading.Event()
        self.alive, self.grace = alive, grace
        self.orphaned = False
        self._gone_since: float | None = None

    def set(self) -> None:
        """Stop was pressed."""
        self.event.set()

    def is_set(self) -> bool:
        """True once Stop was pressed or the owner has been gone for `grace` seconds (then `orphaned` too)."""
        if self.event.is_set():
            return True
        if self.alive is None or self.alive():
            self._gone_since = None
            return False
        now = time.monotonic()
        self._gone_since = self._gone_since or now
        if now - self._gone_since >= self.grace:
            self.orphaned = True
            self.event.set()
        return self.event.is_set()
