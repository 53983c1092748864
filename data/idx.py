"""Reader for the IDX format used by MNIST and Fashion-MNIST.

An IDX file is: two zero bytes, a dtype code, the number of dimensions,
one big-endian uint32 per dimension, then the values in C order, big-endian.
Files may be gzipped; gzip is recognised by its magic bytes, not by name.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import IdxError

__all__ = ["IDX_DTYPES", "MAX_PAYLOAD_BYTES", "read_idx", "read_idx_bytes"]

GZIP_MAGIC = b"\x1f\x8b"

# dtype code -> big-endian numpy dtype, as defined by the IDX format.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# A header claiming more than this is refused before any buffer is allocated:
# the largest real file we read (Fashion-MNIST train images) is 47 MB.
MAX_PAYLOAD_BYTES = 2**31

_MAX_DIMS = 4


class _Digest(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...


class _Gunzip:
    """Bounded reader over gzip bytes: decompresses only as much as asked for.

    Reading the header first lets an absurd or hostile header be refused
    before a gzip bomb is inflated into memory: ``GzipFile`` inflates in
    buffer-sized steps, never the whole stream at once. Concatenated members
    are read as one stream, as gzip allows.
    """

    def __init__(self, raw: bytes, name: str) -> None:
        self._name = name
        self._file = gzip.GzipFile(fileobj=io.BytesIO(raw), mode="rb")

    def read(self, n: int) -> bytes:
        """Return up to ``n`` decompressed bytes; fewer only at end of data."""
        try:
            return self._file.read(n)
        except EOFError:
            raise IdxError(
                f"{self._name}: truncated gzip stream "
                "(compressed data ends before the end-of-stream marker)"
            ) from None
        except gzip.BadGzipFile as exc:
            # The first member's magic was checked by the caller, so a bad magic
            # number here is what follows the last member.
            if str(exc).startswith("Not a gzipped file"):
                raise IdxError(f"{self._name}: trailing garbage after the gzip stream") from None
            raise IdxError(f"{self._name}: corrupt gzip stream ({exc})") from None
        except zlib.error as exc:
            raise IdxError(f"{self._name}: corrupt gzip stream ({exc})") from None


class _Plain:
    """Same interface as ``_Gunzip`` for uncompressed bytes (zero-copy slices)."""

    def __init__(self, raw: bytes) -> None:
        self._view = memoryview(raw)
        self._pos = 0

    def read(self, n: int) -> bytes | memoryview:
        """Return up to ``n`` bytes; fewer only at end of data."""
        chunk = self._view[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


def read_idx_bytes(raw: bytes, name: str, *, digest: _Digest | None = None) -> np.ndarray:
    """Parse IDX content held in memory, gzipped or not.

    ``name`` is used only in error messages. If ``digest`` (e.g. a
    ``hashlib.sha256()`` object) is given, it is fed the *decompressed* bytes,
    so callers can checksum the content without reading it twice.

    Returns a read-only, native-endian array of the declared shape (read-only
    because it may share memory with ``raw``; copy it to modify it).
    Raises ``IdxError`` naming ``name`` and the problem.
    """
    gzipped = bytes(raw[:2]) == GZIP_MAGIC
    stream = _Gunzip(raw, name) if gzipped else _Plain(raw)
    what = "decompressed data" if gzipped else "file"

    prefix = bytes(stream.read(4))
    if len(prefix) < 4:
        raise IdxError(f"{name}: not an IDX file: {what} is only {len(prefix)} bytes long")
    zero, code, ndim = prefix[:2], prefix[2], prefix[3]
    if zero != b"\x00\x00" or code not in IDX_DTYPES or not 1 <= ndim <= _MAX_DIMS:
        raise IdxError(
            f"{name}: not an IDX file: bad magic number 0x{prefix.hex()} "
            f"(expected 0x0000, a dtype code among "
            f"{', '.join(f'0x{c:02X}' for c in IDX_DTYPES)}, and 1..{_MAX_DIMS} dimensions)"
        )
    dims_raw = bytes(stream.read(4 * ndim))
    if len(dims_raw) < 4 * ndim:
        raise IdxError(f"{name}: truncated: header declares {ndim} dimensions but ends early")
    shape = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
    dtype = IDX_DTYPES[code]

    expected = dtype.itemsize * int(np.prod(shape, dtype=object))  # Python int: no overflow
    if expected > MAX_PAYLOAD_BYTES:
        raise IdxError(
            f"{name}: implausible header: shape {shape} of {dtype.name} needs "
            f"{expected} bytes, more than the {MAX_PAYLOAD_BYTES}-byte limit"
        )

    payload = stream.read(expected)
    if len(payload) < expected:
        raise IdxError(
            f"{name}: truncated: expected {expected} bytes of data for shape {shape}, "
            f"found {len(payload)}"
        )
    extra = stream.read(1)
    if extra:
        raise IdxError(
            f"{name}: trailing bytes: data for shape {shape} ends after {expected} bytes "
            "but the file continues"
        )

    if digest is not None:
        digest.update(prefix)
        digest.update(dims_raw)
        digest.update(payload)

    array = np.frombuffer(payload, dtype=dtype).reshape(shape)
    if not dtype.isnative and dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    array.flags.writeable = False
    return array


def read_idx(path: str | os.PathLike[str], *, digest: _Digest | None = None) -> np.ndarray:
    """Read an IDX file (gzipped or plain) into a read-only native-endian array.

    See ``read_idx_bytes`` for ``digest`` and the errors raised; messages name
    ``path``. A file larger than any valid IDX file is refused before reading.
    """
    path = Path(path)
    size = path.stat().st_size
    # Bounds the raw read; compressed data is never larger than the limit in practice.
    if size > MAX_PAYLOAD_BYTES + 4 + 4 * _MAX_DIMS:
        raise IdxError(f"{path}: implausible file size {size} bytes for an IDX file")
    return read_idx_bytes(path.read_bytes(), str(path), digest=digest)
