"""The server's one dataset download (webapp/session/downloads.py), against local HTTP servers on 127.0.0.1."""

import logging
import threading
import time
from dataclasses import replace

import pytest

from data import DATASETS, catalog
from mirrors import Mirror, no_proxies
from webapp.session.downloads import FAILED_MESSAGE, Download, Downloads, DownloadState

MNIST_FILES = DATASETS["mnist"].filenames()


@pytest.fixture
def mirror(monkeypatch, tmp_path, mnist_dir):
    """A function making a Mirror (tests/mirrors.py) of the MNIST files that catalog's "mnist" points at;
    downloads land in tmp_path/project."""
    no_proxies(monkeypatch)
    monkeypatch.setattr(catalog, "PROJECT_DATA_DIR", tmp_path / "project")
    made = []

    def make(**kwargs):
        m = Mirror(lambda name: (mnist_dir / name).read_bytes() if name in MNIST_FILES else None, **kwargs)
        monkeypatch.setitem(catalog.DATASETS, "mnist", replace(DATASETS["mnist"], mirrors=(m.url,)))
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


def fetched(tmp_path):
    folder = tmp_path / "project" / "mnist"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.slow
def test_two_requests_make_one_download_that_both_can_watch(mirror, tmp_path, mnist_dir):
    m = mirror(hold=True)
    downloads = Downloads()
    barrier = threading.Barrier(2)
    seen = []

    def visitor():
        barrier.wait()
        seen.append(downloads.start("mnist"))

    visitors = [threading.Thread(target=visitor) for _ in range(2)]
    for v in visitors:
        v.start()
    for v in visitors:
        v.join(10)
    assert [d.state for d in seen] == ["running", "running"]
    # Half of the first file has arrived: every page sees the same progress.
    deadline = time.monotonic() + 30
    while (d := downloads.status("mnist")).bytes_done == 0:
        assert time.monotonic() < deadline, "no progress seen"
        time.sleep(0.02)
    assert d.state is DownloadState.RUNNING and d.filename == MNIST_FILES[0]
    assert d.bytes_total == (mnist_dir / MNIST_FILES[0]).stat().st_size and 0 < d.fraction < 1
    assert downloads.running == d and downloads.start("mnist").state == "running"  # a late click joins too
    m.release.set()
    done = downloads.wait("mnist", timeout=60)
    assert done.state is DownloadState.DONE and done.message is None and downloads.running is None
    assert sorted(m.requests) == sorted(MNIST_FILES)  # each file fetched once: one download
    assert fetched(tmp_path) == sorted(MNIST_FILES)


@pytest.mark.slow
def test_a_failed_download_tells_visitors_little_logs_the_rest_and_can_be_retried(mirror, tmp_path, caplog):
    m = mirror(mode="404")
    downloads = Downloads()
    with caplog.at_level(logging.INFO, logger="digit_lab"):
        downloads.start("mnist")
        failed = downloads.wait("mnist", timeout=30)
    assert failed.state is DownloadState.FAILED and failed.message == FAILED_MESSAGE
    assert "/" not in failed.message and str(tmp_path) not in failed.message
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "digit_lab")
    assert "HTTP 404" in logged and m.url in logged and str(tmp_path / "project" / "mnist") in logged
    assert fetched(tmp_path) == []

    m.mode = "ok"  # the mirror is back: the same visitor clicks again
    assert downloads.start("mnist").state is DownloadState.RUNNING
    retried = downloads.wait("mnist", timeout=60)
    assert retried.state is DownloadState.DONE and retried.message is None
    assert fetched(tmp_path) == sorted(MNIST_FILES)


def test_one_download_at_a_time_whatever_the_dataset():
    calls, gate = [], threading.Event()

    def fetch(name, progress):
        calls.append(name)
        progress("a.gz", 5, None)
        gate.wait(10)
        return f"/srv/{name}"

    downloads = Downloads(fetch)
    assert downloads.status("mnist") is None and downloads.running is None
    assert downloads.start("mnist").name == "mnist"
    other = downloads.start("fashion-mnist")  # refused while mnist downloads: that one is returned
    assert other.name == "mnist" and downloads.status("fashion-mnist") is None
    gate.set()
    assert downloads.wait("mnist", 10).state is DownloadState.DONE
    assert downloads.start("fashion-mnist").name == "fashion-mnist"
    assert downloads.wait("fashion-mnist", 10).state is DownloadState.DONE
    assert calls == ["mnist", "fashion-mnist"]


def test_an_unexpected_error_is_logged_with_its_traceback_and_shown_short(caplog):
    def fetch(name, progress):
        raise PermissionError(13, "Permission denied", "/srv/project/data/mnist")

    downloads = Downloads(fetch)
    with caplog.at_level(logging.ERROR, logger="digit_lab"):
        downloads.start("mnist")
        failed = downloads.wait("mnist", 10)
    assert failed == Download("mnist", DownloadState.FAILED, message=FAILED_MESSAGE)
    record = next(r for r in caplog.records if r.name == "digit_lab")
    assert record.exc_info and "/srv/project/data/mnist" in str(record.exc_info[1])


def test_fraction():
    assert Download("mnist", DownloadState.RUNNING).fraction is None
    assert Download("mnist", DownloadState.RUNNING, "a.gz", 5, None).fraction is None
    assert Download("mnist", DownloadState.RUNNING, "a.gz", 5, 20).fraction == 0.25
