"""Files visitors upload, as Streamlit holds them until the page reads them: one per session, a cap for all.

Streamlit's upload route keeps every file a session PUTs, under any id it likes, until the session
ends (seen: six 45 MB files from one tab, +456 MB), and none of it is a model yet for the memory
budget to see. Here the manager that holds them keeps only a session's newest file (the app reads
one at a time, and forgets it once read: `forget`), and refuses a file that would take all
sessions' files past `total_bytes` (the route answers 500; the uploader says the upload failed).
"""

import threading

__all__ = ["UploadRefused", "cap", "forget"]


class UploadRefused(RuntimeError):
    """Uploads in flight already take what the server allows."""


def cap(manager, total_bytes):
    """Make Streamlit's uploaded-file `manager` keep one file per session, `total_bytes` in all; the manager."""
    add, lock = manager.add_file, threading.Lock()

    def add_file(session_id, file):
        with lock:
            for older in list(manager.file_storage.get(session_id, {})):
                manager.remove_file(session_id, older)
            held = sum(len(rec.data) for files in list(manager.file_storage.values()) for rec in list(files.values()))
            if held + len(file.data) > total_bytes:
                raise UploadRefused(f"uploads in flight take {held:,} bytes; this server takes {total_bytes:,} at once")
            add(session_id, file)

    manager.add_file = add_file
    return manager


def forget(manager, session_id, file_id):
    """Drop an upload the page has read (its bytes are a model now, or refused)."""
    manager.remove_file(session_id, file_id)
