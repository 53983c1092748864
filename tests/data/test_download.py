"""Tests for data.download against local HTTP servers on 127.0.0.1 (never the internet)."""

import gzip
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from data import DATASETS, DownloadError, catalog, download_dataset, load_dataset
from mirrors import Mirror, no_proxies

pytestmark = pytest.mark.slow

MNIST_FILES = DATASETS["mnist"].filenames()


@pytest.fixture(scope="module")
def real_files(mnist_dir) -> dict[str, bytes]:
    return {f: (mnist_dir / f).read_bytes() for f in MNIST_FILES}


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    no_proxies(monkeypatch)


@pytest.fixture
def serve():
    """Factory: ``serve(body, mode)`` starts a Mirror (tests/mirrors.py) that is closed after the test."""
    servers = []

    def start(body, mode="ok"):
        servers.append(Mirror(body, mode))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def refused_url():
    """A loopback URL on which nothing listens (port taken, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_download_and_load(serve, real_files, tmp_path, monkeypatch):
    server = serve(real_files.get)
    monkeypatch.setattr(catalog, "PROJECT_DATA_DIR", tmp_path / "project")
    calls = []

    dest = download_dataset("mnist", mirrors=[server.url], progress=lambda *a: calls.append(a))

    assert dest == tmp_path / "project" / "mnist"  # default destination
    assert listing(dest) == sorted(MNIST_FILES)  # no temp files left behind
    for f in MNIST_FILES:
        assert (dest / f).read_bytes() == real_files[f]
        mine = [(done, total) for name, done, total in calls if name == f]
        assert mine[0] == (0, len(real_files[f]))
        assert mine[-1] == (len(real_files[f]), len(real_files[f]))
        assert [d for d, _ in mine] == sorted(d for d, _ in mine)
    assert len([c for c in calls if c[0] == "train-images-idx3-ubyte.gz"]) > 2  # streamed

    monkeypatch.delenv("MLP_DATA_DIR", raising=False)
    monkeypatch.setattr(catalog, "SYSTEM_DATA_DIR", tmp_path / "none")
    ds = load_dataset("mnist")
    assert ds.source == dest and ds.x_train.shape == (60000, 28, 28)


def test_connection_cut_half_way(serve, real_files, tmp_path):
    server = serve(real_files.get, mode="cut")
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError) as info:
        download_dataset("mnist", dest, mirrors=[server.url], timeout=5)
    assert server.url + "train-images-idx3-ubyte.gz" in str(info.value)
    assert listing(dest) == []


@pytest.mark.parametrize(
    "bad_body",
    [
        lambda name: gzip.compress(np.random.default_rng(0).bytes(5000)),  # valid gzip, garbage inside
        lambda name: b"<html>not a dataset</html>" * 40,  # not gzip at all
        lambda name: gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3])),  # valid IDX, wrong content
    ],
    ids=["gzip-garbage", "junk", "wrong-idx"],
)
def test_wrong_bytes(serve, tmp_path, bad_body):
    server = serve(bad_body)
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError, match="every mirror failed"):
        download_dataset("mnist", dest, mirrors=[server.url], timeout=5)
    assert listing(dest) == []


def test_checksum_mismatch_is_reported(serve, real_files, tmp_path):
    # Right format, wrong file: serve the test labels under every name.
    server = serve(lambda name: real_files["t10k-labels-idx1-ubyte.gz"])
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download_dataset("mnist", dest, mirrors=[server.url], timeout=5)
    assert listing(dest) == []


def test_falls_back_to_next_mirror(serve, real_files, tmp_path, refused_url):
    missing = serve(real_files.get, mode="404")
    cut = serve(real_files.get, mode="cut")
    good = serve(real_files.get)
    dest = download_dataset(
        "mnist", tmp_path / "dest", mirrors=[refused_url, missing.url, cut.url, good.url], timeout=5
    )
    assert listing(dest) == sorted(MNIST_FILES)
    assert sorted(good.requests) == sorted(MNIST_FILES)
    assert sorted(cut.requests) == sorted(MNIST_FILES)


def test_all_mirrors_failing_lists_each(serve, real_files, tmp_path, refused_url):
    missing = serve(real_files.get, mode="404")
    with pytest.raises(DownloadError) as info:
        download_dataset("mnist", tmp_path / "dest", mirrors=[refused_url, missing.url], timeout=5)
    message = str(info.value)
    assert refused_url + "train-images-idx3-ubyte.gz: cannot connect" in message
    assert missing.url + "train-images-idx3-ubyte.gz: HTTP 404" in message
    assert listing(tmp_path / "dest") == []


def test_present_valid_files_not_downloaded(serve, mnist_dir, real_files, tmp_path):
    server = serve(real_files.get)
    dest = tmp_path / "dest"
    dest.mkdir()
    for f in MNIST_FILES:
        shutil.copy(mnist_dir / f, dest / f)
    # A damaged copy is replaced; the three valid ones are left alone.
    (dest / "t10k-labels-idx1-ubyte.gz").write_bytes(b"damaged")

    download_dataset("mnist", dest, mirrors=[server.url])

    assert server.requests == ["t10k-labels-idx1-ubyte.gz"]
    assert (dest / "t10k-labels-idx1-ubyte.gz").read_bytes() == real_files["t10k-labels-idx1-ubyte.gz"]
    download_dataset("mnist", dest, mirrors=[server.url])
    assert len(server.requests) == 1
    assert listing(dest) == sorted(MNIST_FILES)


def test_without_content_length(serve, mnist_dir, real_files, tmp_path):
    server = serve(real_files.get, mode="no-length")
    dest = tmp_path / "dest"
    dest.mkdir()
    for f in MNIST_FILES:
        if "images" in f:
            (dest / f).symlink_to(mnist_dir / f)
    calls = []
    download_dataset("mnist", dest, mirrors=[server.url], progress=lambda *a: calls.append(a))
    assert sorted(server.requests) == sorted(f for f in MNIST_FILES if "labels" in f)
    assert all(total is None for _, _, total in calls)
    assert listing(dest) == sorted(MNIST_FILES)


def test_timeout(serve, tmp_path):
    # The server sends nothing until the test ends: only the client's own timeout can end the wait.
    server = serve(lambda name: b"", mode="stall")
    with pytest.raises(DownloadError, match="timed out"):
        download_dataset("mnist", tmp_path / "dest", mirrors=[server.url], timeout=0.3)
    assert server.requests  # it was asked, and never answered
    assert listing(tmp_path / "dest") == []


def test_progress_exception_propagates_and_cleans_up(serve, real_files, tmp_path):
    class Cancelled(Exception):
        pass

    def progress(name, done, total):
        if done > 0:
            raise Cancelled

    server = serve(real_files.get)
    with pytest.raises(Cancelled):
        download_dataset("mnist", tmp_path / "dest", mirrors=[server.url], progress=progress)
    assert listing(tmp_path / "dest") == []


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"mirrors": "http://127.0.0.1:1/"}, "non-empty list"),
        ({"mirrors": []}, "non-empty list"),
        ({"mirrors": ["file:///etc/"]}, "http"),
        ({"mirrors": ["http://127.0.0.1:1/"], "timeout": 0}, "timeout must be a positive"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        download_dataset("mnist", tmp_path / "dest", **kwargs)
    assert listing(tmp_path / "dest") == []


def test_unknown_dataset(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'kmnist'"):
        download_dataset("kmnist", tmp_path)
