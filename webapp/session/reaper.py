"""Sessions whose browser has gone are closed, so what they held (models, uploads, caches) is given back.

Streamlit keeps a disconnected session for `server.disconnectedSessionTTL` seconds (two minutes by
default) so that a browser whose network blipped can take it up again. But it only forgets an
expired one when another session disconnects later, and it never shuts it down: on a quiet server
(a class that has gone home) the last visitors' models stay in memory for good, with their uploaded
files. Here every page run records its session; a thread looks every few seconds, and closes a
session that has been disconnected for half the TTL (through Runtime.clear_user_info_for_session,
Streamlit's own call for closing a stored session, safe from any thread), which drops its state and
files, then collects the garbage (sessions hold reference cycles that only the collector frees).
"""

import gc
import logging
import threading
import time
from typing import Any

__all__ = ["Reaper"]

log = logging.getLogger("digit_lab")


class Reaper:
    """Closes sessions of `runtime` (a streamlit Runtime) disconnected for `grace` seconds, checking every `every`."""

    def __init__(self, runtime: Any, grace: float, every: float = 5.0) -> None:
        self.runtime, self.grace, self.every = runtime, grace, every
        # session id -> when it was first seen disconnected (None: connected)
        self._gone_since: dict[str, float | None] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="session-reaper", daemon=True)
        self.closed = 0

    def start(self) -> "Reaper":
        """Start sweeping in a daemon thread; the Reaper."""
        self._thread.start()
        return self

    def seen(self, session_id: str) -> None:
        """A page run of `session_id` (cheap: once per run)."""
        with self._lock:
            self._gone_since.setdefault(session_id, None)

    def watched(self) -> int:
        """How many sessions it knows of (connected, or gone and not yet closed)."""
        with self._lock:
            return len(self._gone_since)

    def sweep(self, now: float | None = None) -> int:
        """Close the sessions gone for `grace` seconds; how many."""
        now = time.monotonic() if now is None else now
        with self._lock:
            ids = list(self._gone_since)
        gone = []
        for session_id in ids:
            if self.runtime.is_active_session(session_id):
                with self._lock:
                    self._gone_since[session_id] = None
                continue
            with self._lock:
                since = self._gone_since.setdefault(session_id, now) or now
                self._gone_since[session_id] = since
                if now - since < self.grace:
                    continue
                del self._gone_since[session_id]
            gone.append(session_id)
        for session_id in gone:
            self.runtime.clear_user_info_for_session(session_id)  # closes a stored session on the event loop
            self.runtime.uploaded_file_mgr.remove_session_files(session_id)  # even if Streamlit already let it go
        if gone:
            self.closed += len(gone)
            time.sleep(0.5)  # the event loop closes them meanwhile
            freed = gc.collect()
            log.info("reaper: closed %d sessions gone for %.0f s (%d objects collected)", len(gone), self.grace, freed)
        return len(gone)

    def _run(self) -> None:
        while True:
            time.sleep(self.every)
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - the reaper must outlive any one bad sweep; the log says why
                log.exception("reaper: a sweep failed")
