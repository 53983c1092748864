"""Files visitors upload, as Streamlit holds them until the page reads them: bounded in all, per address, in time.

Streamlit's upload route keeps every file a session PUTs, under any id it likes, until the session
ends (seen: six 45 MB files from one tab, +456 MB), and none of it is a model yet for the memory
budget to see. Here the manager that holds them keeps only a session's newest file (the app reads
one at a time, and forgets it once read: `forget`), forgets a file no page has read within
`unread_seconds` (a page reads an upload in the run right after it), and refuses a file that would
take all sessions' files past `total_bytes`, or one network address's past `address_bytes` (the
route answers 500; the uploader says the upload failed). So a handful of scripted sessions that
upload and never read cannot hold the server's uploads for long, nor alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

__all__ = ["UploadRefused", "cap", "forget"]

UNREAD_SECONDS = 120.0


class UploadRefused(RuntimeError):
    """Uploads in flight already take what the server (or this address) allows."""


def cap(manager: MemoryUploadedFileManager, total_bytes: int, address_bytes: int | None = None,
        address_of: Callable[[str], str | None] | None = None, unread_seconds: float = UNREAD_SECONDS,
        clock: Callable[[], float] = time.monotonic) -> MemoryUploadedFileManager:
    """Bound Streamlit's uploaded-file `manager` as the module says; returns it.

    `address_of(session_id)` names the network a session connects from (None: unknown, counted in all only).
    """
    add, lock = manager.add_file, threading.Lock()
    added: dict[tuple[str, str], tuple[float, str | None]] = {}  # (session id, file id) -> (when, address)

    def held() -> list[tuple[str, str, int, float, str | None]]:
        """(session id, file id, bytes, when, address) of every file the manager holds now."""
        return [(sid, fid, len(rec.data), *added.get((sid, fid), (clock(), None)))
                for sid, files in list(manager.file_storage.items()) for fid, rec in list(files.items())]

    def add_file(session_id: str, file: UploadedFileRec) -> None:
        with lock:
            for older in list(manager.file_storage.get(session_id, {})):
                manager.remove_file(session_id, older)
            now = clock()
            for sid, fid, _, when, _ in held():
                if now - when > unread_seconds:  # never read by a page: a script's, or a tab gone
                    manager.remove_file(sid, fid)
            files = held()
            added.clear()
            added.update({(sid, fid): (when, address) for sid, fid, _, when, address in files})
            size, address = len(file.data), address_of(session_id) if address_of is not None else None
            in_all = sum(n for _, _, n, _, _ in files)
            if in_all + size > total_bytes:
                raise UploadRefused(f"uploads in flight take {in_all:,} bytes; this server takes {total_bytes:,} "
                                    "at once")
            here = sum(n for _, _, n, _, a in files if address is not None and a == address)
            if address_bytes is not None and address is not None and here + size > address_bytes:
                raise UploadRefused(f"uploads in flight from {address} take {here:,} bytes; one network may have "
                                    f"{address_bytes:,} at once")
            add(session_id, file)
            added[(session_id, file.file_id)] = (now, address)

    manager.add_file = add_file  # type: ignore[method-assign]  # the manager's own, bounded
    return manager


def forget(manager: MemoryUploadedFileManager, session_id: str, file_id: str) -> None:
    """Drop an upload the page has read (its bytes are a model now, or refused)."""
    manager.remove_file(session_id, file_id)
