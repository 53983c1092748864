"""Tests for data.idx: valid files of every dtype, and every way a file can be wrong."""

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from data import IdxError, read_idx, read_idx_bytes
from data.errors import DatasetError
from data.idx import IDX_DTYPES
from needs import missing


def idx_bytes(array: np.ndarray, code: int | None = None) -> bytes:
    """Encode ``array`` as IDX (big-endian), the way the format defines it."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_DTYPES.items()}
    code = codes[array.dtype.newbyteorder("=")] if code is None else code
    be = array.astype(array.dtype.newbyteorder(">"))
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + be.tobytes()


def write(path: Path, content: bytes, gz: bool) -> Path:
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(
    "dtype,shape",
    [
        (np.uint8, (5, 3, 4)),
        (np.int8, (7,)),
        (np.int16, (2, 3)),
        (np.int32, (2, 2, 2, 2)),
        (np.float32, (4, 5)),
        (np.float64, (3,)),
    ],
)
def test_round_trip(tmp_path, rng, gz, dtype, shape):
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    else:
        a = rng.standard_normal(shape).astype(dtype)
    # Neutral name: gzip must be recognised by content, never by extension.
    path = write(tmp_path / "file.bin", idx_bytes(a), gz)
    out = read_idx(path)
    assert out.shape == shape
    assert out.dtype == np.dtype(dtype)
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, a)
    assert not out.flags.writeable


def test_misleading_extension(tmp_path):
    a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "x.gz", idx_bytes(a), gz=False)), a)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "x.idx", idx_bytes(a), gz=True)), a)


def test_digest_sees_decompressed_content(tmp_path):
    content = idx_bytes(np.arange(100, dtype=np.uint8))
    digest = hashlib.sha256()
    read_idx(write(tmp_path / "f", content, gz=True), digest=digest)
    assert digest.hexdigest() == hashlib.sha256(content).hexdigest()


def test_concatenated_gzip_members():
    content = idx_bytes(np.arange(50, dtype=np.uint8))
    raw = gzip.compress(content[:20]) + gzip.compress(content[20:])
    np.testing.assert_array_equal(read_idx_bytes(raw, "multi"), np.arange(50))


def test_read_idx_bytes_names_the_source():
    with pytest.raises(IdxError, match=r"^memory-blob: "):
        read_idx_bytes(b"nonsense", "memory-blob")


def test_errors_are_value_errors():
    assert issubclass(IdxError, DatasetError)
    assert issubclass(IdxError, ValueError)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_truncated_payload(tmp_path, gz):
    content = idx_bytes(np.zeros((10, 28, 28), np.uint8))
    path = write(tmp_path / "t10k-images-idx3-ubyte.gz", content[:-100], gz)
    with pytest.raises(IdxError, match=r"t10k-images-idx3-ubyte\.gz: truncated: expected 7840 bytes .* found 7740"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_truncated_header(tmp_path, gz):
    content = idx_bytes(np.zeros((10, 28, 28), np.uint8))
    with pytest.raises(IdxError, match="truncated: header declares 3 dimensions"):
        read_idx(write(tmp_path / "f", content[:9], gz))
    with pytest.raises(IdxError, match="only 2 bytes long"):
        read_idx(write(tmp_path / "g", content[:2], gz))


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_trailing_bytes(tmp_path, gz):
    content = idx_bytes(np.zeros((4,), np.uint8)) + b"\x00"
    with pytest.raises(IdxError, match="trailing bytes"):
        read_idx(write(tmp_path / "f", content, gz))


def test_garbage_after_gzip_stream(tmp_path):
    raw = gzip.compress(idx_bytes(np.zeros((4,), np.uint8))) + b"junk"
    with pytest.raises(IdxError, match="trailing garbage after the gzip stream"):
        read_idx_bytes(raw, "f")


@pytest.mark.parametrize(
    "header",
    [
        bytes([1, 0, 0x08, 1]),  # first magic byte not zero
        bytes([0, 0, 0x0A, 1]),  # unknown dtype code
        bytes([0, 0, 0x08, 0]),  # zero dimensions
        bytes([0, 0, 0x08, 5]),  # too many dimensions
    ],
)
def test_wrong_magic(tmp_path, header):
    path = write(tmp_path / "bad.idx", header + b"\x00" * 64, gz=False)
    with pytest.raises(IdxError, match=r"bad\.idx: not an IDX file: bad magic number"):
        read_idx(path)


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x1c",
        b"label,1x1,1x2\n5,0,0\n",
        b"<html><body>404 Not Found</body></html>",
    ],
    ids=["png", "csv", "html"],
)
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_foreign_file(tmp_path, content, gz):
    with pytest.raises(IdxError, match="not an IDX file"):
        read_idx(write(tmp_path / "foreign", content, gz))


def test_empty_file(tmp_path):
    with pytest.raises(IdxError, match="only 0 bytes long"):
        read_idx(write(tmp_path / "empty", b"", gz=False))


def test_corrupt_gzip(tmp_path):
    raw = bytearray(gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32))))
    raw[len(raw) // 2] ^= 0xFF
    with pytest.raises(IdxError, match="corrupt gzip stream"):
        read_idx(write(tmp_path / "corrupt.gz", bytes(raw), gz=False))


def test_gzip_crc_mismatch(tmp_path):
    raw = bytearray(gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32))))
    raw[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    with pytest.raises(IdxError, match="corrupt gzip stream"):
        read_idx_bytes(bytes(raw), "crc.gz")


def test_truncated_gzip(tmp_path):
    raw = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
    with pytest.raises(IdxError, match="cut.gz: truncated gzip stream"):
        read_idx(write(tmp_path / "cut.gz", raw[:-20], gz=False))
    with pytest.raises(IdxError, match="cut.gz: truncated gzip stream"):
        read_idx(write(tmp_path / "cut.gz", raw[:15], gz=False))


def test_gzip_header_only(tmp_path):
    with pytest.raises(IdxError, match="gzip"):
        read_idx_bytes(b"\x1f\x8b", "two-bytes")


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_absurd_dims_refused_before_allocating(tmp_path, gz):
    # Claims 4 x 65536^3 float64 = 2^51 bytes; must fail on the header alone.
    header = bytes([0, 0, 0x0E, 4]) + struct.pack(">4I", 4, 65536, 65536, 65536)
    with pytest.raises(IdxError, match="implausible header"):
        read_idx(write(tmp_path / "huge", header, gz))


def test_gzip_bomb_refused_without_inflating():
    # Header says 10 bytes, stream inflates to 100 MB: only 11 bytes get inflated.
    content = idx_bytes(np.zeros(10, np.uint8)) + bytes(100_000_000)
    with pytest.raises(IdxError, match="trailing bytes"):
        read_idx_bytes(gzip.compress(content, compresslevel=1), "bomb")


def test_zero_length_dimension():
    out = read_idx_bytes(idx_bytes(np.zeros((0, 28, 28), np.uint8)), "empty-set")
    assert out.shape == (0, 28, 28)


@pytest.fixture
def mnist_dir():
    root = os.environ.get("MLP_DATA_DIR")
    if not root:
        missing("MLP_DATA_DIR is not set; real MNIST files unavailable")
    directory = Path(root) / "mnist"
    if not (directory / "t10k-images-idx3-ubyte.gz").is_file():
        missing(f"no real MNIST under {directory}")
    return directory


def test_real_mnist_t10k(mnist_dir):
    x = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    y = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10000,) and y.dtype == np.uint8
    assert set(np.unique(y)) == set(range(10))
    assert x.max() == 255 and x.min() == 0
    # The first t10k label is famously a 7.
    assert y[0] == 7
