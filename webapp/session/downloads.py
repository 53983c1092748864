"""At most one dataset download per server, which every waiting page can watch. No Streamlit here.

A visitor's click starts `data.download_dataset` in a background thread, or joins the download
already under way: pages poll `status(name)` on their reruns for its progress and outcome. The
server's one Downloads is made by webapp.session.resources.downloads. A
visitor only ever sees a short message; the error itself, with the folders and mirrors it
names, goes to the log (logger "digit_lab") for whoever runs the server. A failed download
can be started again.
"""

import logging
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import Any, NamedTuple

import data

log = logging.getLogger("digit_lab")

FAILED_MESSAGE = "The download failed. Try again later."


class DownloadState(StrEnum):
    """Where a download is."""

    RUNNING = "running"
    FAILED = "failed"
    DONE = "done"


class Download(NamedTuple):
    """One download as pages see it, read at one moment."""

    name: str  # the dataset
    state: DownloadState
    filename: str | None = None  # the file arriving now (None before the first byte)
    bytes_done: int = 0  # of that file
    bytes_total: int | None = None  # of that file, None if the mirror did not say
    message: str | None = None  # for visitors, when FAILED: short, with no path in it

    @property
    def fraction(self) -> float | None:
        """Share of the current file received, in [0, 1]; None when its size is unknown."""
        if not self.bytes_total:
            return None
        return min(1.0, self.bytes_done / self.bytes_total)


Progress = Callable[[str, int, "int | None"], None]  # (file name, bytes received, bytes in all or None)
Fetch = Callable[..., object]  # fetch(name, progress=Progress): where the dataset went (data.download_dataset)


class Downloads:
    """A server's downloads: at most one runs at a time, whatever the dataset.

    `fetch(name, progress=...)` does the work (data.download_dataset by default).
    """

    def __init__(self, fetch: Fetch | None = None) -> None:
        self._fetch = fetch  # None: data.download_dataset, looked up when a download starts
        self._cond = threading.Condition()
        self._latest: dict[str, Download] = {}  # dataset name -> its latest Download
        self._running: str | None = None  # the name being downloaded, or None

    def start(self, name: str) -> Download:
        """Start downloading dataset `name` unless a download runs; returns the one that runs.

        A second request while `name` downloads joins it. While another dataset downloads,
        nothing starts and that download is returned (its `name` tells which).
        """
        with self._cond:
            if self._running is not None:
                return self._latest[self._running]
            self._running = name
            self._latest[name] = Download(name, DownloadState.RUNNING)
            threading.Thread(target=self._download, args=(name,), name=f"download:{name}", daemon=True).start()
            return self._latest[name]

    def status(self, name: str) -> Download | None:
        """The latest Download of dataset `name`, or None if none was started."""
        with self._cond:
            return self._latest.get(name)

    @property
    def running(self) -> Download | None:
        """The Download under way, or None."""
        with self._cond:
            return self._latest[self._running] if self._running is not None else None

    def wait(self, name: str, timeout: float | None = None) -> Download | None:
        """Block until dataset `name` is not downloading (or `timeout` seconds pass); its latest Download."""
        with self._cond:
            self._cond.wait_for(lambda: self._running != name, timeout)
            return self._latest.get(name)

    def _update(self, name: str, **fields: Any) -> None:
        with self._cond:
            self._latest[name] = self._latest[name]._replace(**fields)
            self._cond.notify_all()

    def _download(self, name: str) -> None:
        log.info("downloading dataset %s", name)

        def progress(filename: str, done: int, total: int | None) -> None:
            self._update(name, filename=filename, bytes_done=done, bytes_total=total)

        outcome: dict[str, Any] = {"state": DownloadState.FAILED, "message": FAILED_MESSAGE}
        try:
            folder = (self._fetch or data.download_dataset)(name, progress=progress)
        except data.DownloadError as e:  # every mirror failed: the message lists each, and the folder
            log.error("download of dataset %s failed: %s", name, e)
        except Exception:  # e.g. a folder the server may not write: logged, never shown
            log.exception("download of dataset %s failed", name)
        else:
            log.info("downloaded dataset %s into %s", name, folder)
            outcome = {"state": DownloadState.DONE, "message": None}
        with self._cond:
            self._latest[name] = self._latest[name]._replace(**outcome)
            self._running = None
            self._cond.notify_all()

