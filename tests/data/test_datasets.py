"""Tests for data.catalog / data.datasets: search order, errors, and loading real data."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

import data.datasets
from data import (
    DATASETS,
    Dataset,
    DatasetError,
    DatasetNotFound,
    IdxError,
    catalog,
    find_dataset,
    load_dataset,
    search_dirs,
)
from needs import missing

MNIST_FILES = DATASETS["mnist"].filenames()
# Read once at import: the `isolated` fixture clears the variable during tests.


def idx_gz(array: np.ndarray) -> bytes:
    """Gzipped IDX encoding of a uint8 array."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), compresslevel=1)


def write_synthetic(directory: Path, n_train=5, n_test=3, image_shape=(28, 28), labels=None) -> Path:
    """A tiny fake MNIST directory (will not pass checksums: load with verify=False)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, *image_shape)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train) if labels is None else labels,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, *image_shape)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test),
    }
    for filename, array in arrays.items():
        (directory / filename).write_bytes(idx_gz(np.asarray(array)))
    return directory


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Point every search location into tmp_path so no real copy is found by accident."""
    monkeypatch.delenv("MLP_DATA_DIR", raising=False)
    monkeypatch.setattr(catalog, "PROJECT_DATA_DIR", tmp_path / "project")
    monkeypatch.setattr(catalog, "SYSTEM_DATA_DIR", tmp_path / "system")
    return tmp_path


def test_specs():
    assert set(DATASETS) == {"mnist", "fashion-mnist"}
    for spec in DATASETS.values():
        assert spec.filenames() == [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ]
        assert all(len(f.sha256) == 64 for f in spec.files.values())
        assert len(spec.class_names) == 10 and spec.mirrors
    assert DATASETS["mnist"].class_names == tuple("0123456789")
    assert DATASETS["fashion-mnist"].class_names[0] == "T-shirt/top"
    assert DATASETS["fashion-mnist"].class_names[-1] == "Ankle boot"


def test_search_order(isolated, monkeypatch):
    env = isolated / "env"
    monkeypatch.setenv("MLP_DATA_DIR", str(env))
    assert search_dirs("mnist") == [
        env / "mnist",
        isolated / "project" / "mnist",
        isolated / "system" / "mnist",
    ]
    monkeypatch.delenv("MLP_DATA_DIR")
    assert search_dirs("fashion-mnist") == [
        isolated / "project" / "fashion-mnist",
        isolated / "system" / "fashion-mnist",
    ]


def test_default_locations():
    assert catalog.PROJECT_DATA_DIR == Path(data.datasets.__file__).resolve().parent
    assert catalog.SYSTEM_DATA_DIR == Path("/usr/share/datasets")


def test_find_dataset_needs_all_four_files(isolated, monkeypatch):
    monkeypatch.setenv("MLP_DATA_DIR", str(isolated / "env"))
    incomplete = isolated / "env" / "mnist"
    incomplete.mkdir(parents=True)
    for f in MNIST_FILES[:3]:
        (incomplete / f).touch()
    assert find_dataset("mnist") is None

    for base in ("system", "project"):
        d = isolated / base / "mnist"
        d.mkdir(parents=True)
        for f in MNIST_FILES:
            (d / f).touch()
    # Project beats system; the incomplete env dir is skipped.
    assert find_dataset("mnist") == isolated / "project" / "mnist"
    (incomplete / MNIST_FILES[3]).touch()
    assert find_dataset("mnist") == incomplete


def test_unknown_name():
    for call in (lambda: load_dataset("cifar10"), lambda: search_dirs("cifar10"), lambda: find_dataset("x")):
        with pytest.raises(ValueError, match="unknown dataset .*fashion-mnist, mnist"):
            call()


def test_not_found_message(isolated, monkeypatch):
    monkeypatch.setenv("MLP_DATA_DIR", str(isolated / "env"))
    with pytest.raises(DatasetNotFound) as info:
        load_dataset("fashion-mnist")
    message = str(info.value)
    for d in search_dirs("fashion-mnist"):
        assert str(d) in message
    assert "MLP_DATA_DIR" in message
    assert "python -m mlp download --dataset fashion-mnist" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert isinstance(info.value, FileNotFoundError)

    with pytest.raises(DatasetNotFound) as info:
        load_dataset("mnist")
    assert "python -m mlp download --dataset mnist" in str(info.value)
    assert "apt-get" not in str(info.value)


def test_download_when_missing(isolated, mnist_dir, monkeypatch):
    calls = []

    def fake_download(name, dest_dir=None, *, progress=None, **kwargs):
        calls.append((name, Path(dest_dir)))
        Path(dest_dir).mkdir(parents=True)
        for f in MNIST_FILES:
            (Path(dest_dir) / f).symlink_to(mnist_dir / f)
        return Path(dest_dir)

    monkeypatch.setattr(data.datasets, "download_dataset", fake_download)
    ds = load_dataset("mnist", download=True)
    assert calls == [("mnist", isolated / "project" / "mnist")]
    assert ds.source == isolated / "project" / "mnist"
    # Found now, so a second load does not download again.
    load_dataset("mnist", download=True)
    assert len(calls) == 1


def test_load_real_mnist(isolated, mnist_dir, monkeypatch):
    monkeypatch.setenv("MLP_DATA_DIR", str(mnist_dir.parent))
    ds = load_dataset("mnist")
    assert isinstance(ds, Dataset)
    assert ds.name == "mnist" and ds.source == mnist_dir
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_train.dtype == np.uint8
    assert ds.y_train.shape == (60000,) and ds.y_train.dtype == np.uint8
    assert ds.x_test.shape == (10000, 28, 28) and ds.x_test.dtype == np.uint8
    assert ds.y_test.shape == (10000,) and ds.y_test.dtype == np.uint8
    assert ds.class_names == tuple(str(d) for d in range(10))
    assert np.bincount(ds.y_train, minlength=10).min() > 5000
    assert not ds.x_train.flags.writeable  # one cached copy is shared: no in-place edits
    with pytest.raises(AttributeError):
        ds.name = "other"
    assert "60000" in repr(ds)


def _copy_real(mnist_dir: Path, dest: Path) -> Path:
    """Link the large image files, copy the small label files (so tests can alter them)."""
    dest.mkdir(parents=True)
    for f in MNIST_FILES:
        if "labels" in f:
            (dest / f).write_bytes((mnist_dir / f).read_bytes())
        else:
            (dest / f).symlink_to(mnist_dir / f)
    return dest


def test_checksum_mismatch(isolated, mnist_dir, monkeypatch):
    monkeypatch.setenv("MLP_DATA_DIR", str(isolated / "env"))
    d = _copy_real(mnist_dir, isolated / "env" / "mnist")
    target = d / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(target.read_bytes()))
    content[8] = (content[8] + 1) % 10  # first label: still a valid digit, wrong value
    target.write_bytes(gzip.compress(bytes(content)))

    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\.gz: checksum mismatch"):
        load_dataset("mnist")
    # Without verification the structurally valid file loads.
    ds = load_dataset("mnist", verify=False)
    assert ds.y_test[0] == content[8]


def test_recompressed_file_still_verifies(isolated, mnist_dir, monkeypatch):
    # Checksums are over decompressed content: a different gzip level must not matter.
    monkeypatch.setenv("MLP_DATA_DIR", str(isolated / "env"))
    d = _copy_real(mnist_dir, isolated / "env" / "mnist")
    target = d / "train-labels-idx1-ubyte.gz"
    target.write_bytes(gzip.compress(gzip.decompress(target.read_bytes()), compresslevel=1))
    assert load_dataset("mnist").y_train.shape == (60000,)


def test_count_mismatch(isolated, mnist_dir, monkeypatch):
    monkeypatch.setenv("MLP_DATA_DIR", str(isolated / "env"))
    d = _copy_real(mnist_dir, isolated / "env" / "mnist")
    target = d / "t10k-labels-idx1-ubyte.gz"
    labels = np.frombuffer(gzip.decompress(target.read_bytes())[8:], np.uint8)
    target.write_bytes(idx_gz(labels[:-1]))
    with pytest.raises(DatasetError, match=r"10000 images but .*t10k-labels-idx1-ubyte\.gz has 9999 labels"):
        load_dataset("mnist")


def test_synthetic_loads_without_verify(isolated, monkeypatch):
    monkeypatch.setenv("MLP_DATA_DIR", str(isolated / "env"))
    write_synthetic(isolated / "env" / "mnist")
    ds = load_dataset("mnist", verify=False)
    assert ds.x_train.shape == (5, 28, 28) and ds.x_test.shape == (3, 28, 28)
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz: checksum mismatch"):
        load_dataset("mnist")


def test_label_out_of_range(isolated, monkeypatch):
    monkeypatch.setenv("MLP_DATA_DIR", str(isolated / "env"))
    write_synthetic(isolated / "env" / "mnist", labels=np.array([1, 2, 10, 3, 4]))
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte\.gz: label 10 at index 2 is outside 0..9"):
        load_dataset("mnist", verify=False)


def test_wrong_image_shape(isolated, monkeypatch):
    monkeypatch.setenv("MLP_DATA_DIR", str(isolated / "env"))
    write_synthetic(isolated / "env" / "mnist", image_shape=(32, 32))
    message = r"train-images-idx3-ubyte\.gz: expected uint8 images of shape \(n, 28, 28\)"
    with pytest.raises(DatasetError, match=message):
        load_dataset("mnist", verify=False)


def test_corrupt_file_names_the_file(isolated, monkeypatch):
    monkeypatch.setenv("MLP_DATA_DIR", str(isolated / "env"))
    d = write_synthetic(isolated / "env" / "mnist")
    (d / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(IdxError, match=r"t10k-images-idx3-ubyte\.gz: not an IDX file"):
        load_dataset("mnist", verify=False)


def test_fashion_mnist_from_system_dir(monkeypatch, tmp_path):
    system = Path("/usr/share/datasets/fashion-mnist")
    if not all((system / f).is_file() for f in DATASETS["fashion-mnist"].filenames()):
        missing(f"Fashion-MNIST not installed under {system}")  # .ci/run installs dataset-fashion-mnist
    monkeypatch.delenv("MLP_DATA_DIR", raising=False)
    monkeypatch.setattr(catalog, "PROJECT_DATA_DIR", tmp_path)
    ds = load_dataset("fashion-mnist")
    assert ds.source == system
    assert ds.x_train.shape == (60000, 28, 28) and ds.y_test.shape == (10000,)
    assert ds.class_names[9] == "Ankle boot"
