"""Things the log is told once per server, not once per page run. No Streamlit.

The server's Once objects are made by webapp.session.resources.log_once, one per topic.
"""

import threading
from collections.abc import Hashable

__all__ = ["Once"]


class Once:
    """True the first time it is asked about a key, then False; at most `most` keys (then always False), so
    keys a visitor chooses (an address they connect from) cannot grow it without bound. Thread-safe."""

    def __init__(self, most: int | None = None) -> None:
        self.most = most
        self._seen: set[Hashable] = set()
        self._lock = threading.Lock()

    def first(self, key: Hashable) -> bool:
        """True if `key` was never asked about before (and there was room to note it)."""
        with self._lock:
            if key in self._seen or (self.most is not None and len(self._seen) >= self.most):
                return False
            self._seen.add(key)
            return True
