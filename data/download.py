"""Download dataset files from mirrors, verifying each before it gets its final name.

Each file is streamed to a hidden temporary file in the destination directory,
fsynced, verified (gunzip, IDX parse, SHA-256 of the decompressed content) and
only then atomically renamed. Failed attempts delete their temporary file, so a
crash-free run never leaves partial or corrupt data behind.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from . import catalog
from .catalog import FileSpec
from .errors import DatasetError, DownloadError
from .idx import read_idx_bytes

__all__ = ["ProgressCallback", "download_dataset", "is_valid_file"]

# progress(filename, bytes_done, bytes_total_or_None)
ProgressCallback = Callable[[str, int, "int | None"], None]

_CHUNK = 1 << 20

# Failures that mean "this mirror did not deliver": try the next one.
# Anything else (e.g. an exception from the progress callback) propagates.
_MIRROR_FAILURES = (OSError, http.client.HTTPException, DatasetError, ValueError)


def is_valid_file(path: Path, file: FileSpec) -> bool:
    """True if ``path`` exists and its decompressed content matches ``file.sha256``."""
    try:
        _verify(path.read_bytes(), file, str(path))
    except (OSError, DatasetError):
        return False
    return True


def download_dataset(
    name: str,
    dest_dir: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    progress: ProgressCallback | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch the missing or invalid files of dataset ``name`` into ``dest_dir``.

    ``dest_dir`` defaults to ``<project>/data/<name>/``; ``mirrors`` (base URLs,
    http or https) overrides the spec's list and is tried in order. Files
    already present and valid are not fetched again. ``progress`` is called as
    ``progress(filename, bytes_done, bytes_total_or_None)`` while bytes arrive.

    Returns the destination directory. Raises ``DownloadError`` listing each
    mirror's failure if a file cannot be obtained from any mirror.
    """
    spec = catalog.get_spec(name)
    bases = _check_mirrors(spec.mirrors if mirrors is None else mirrors)
    if not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    dest = Path(dest_dir) if dest_dir is not None else catalog.project_dir(name)
    dest.mkdir(parents=True, exist_ok=True)

    for role in catalog.FILE_ROLES:
        file = spec.files[role]
        final = dest / file.filename
        if is_valid_file(final, file):
            continue
        failures = []
        for base in bases:
            url = base + file.filename
            try:
                _fetch(url, final, file, progress, timeout)
                break
            except _MIRROR_FAILURES as exc:
                failures.append(f"  {url}: {_describe(exc)}")
        else:
            raise DownloadError(
                f"could not download {file.filename} for {spec.name} into {dest}; "
                "every mirror failed:\n" + "\n".join(failures)
            )
    return dest


def _check_mirrors(mirrors: Sequence[str]) -> list[str]:
    """Validate base URLs early and make each end with '/' so names append cleanly."""
    if isinstance(mirrors, str) or not mirrors:
        raise ValueError(f"mirrors must be a non-empty list of base URLs, got {mirrors!r}")
    bases = []
    for base in mirrors:
        scheme = urllib.parse.urlsplit(str(base)).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"mirror must be an http(s) URL, got {base!r}")
        bases.append(base if base.endswith("/") else base + "/")
    return bases


def _fetch(
    url: str, final: Path, file: FileSpec, progress: ProgressCallback | None, timeout: float
) -> None:
    """Download ``url`` to a temp file beside ``final``, verify it, then rename it into place."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{file.filename}.", suffix=".part", dir=final.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                total = _content_length(resp)
                done = 0
                if progress is not None:
                    progress(file.filename, 0, total)
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(file.filename, done, total)
            if total is not None and done != total:
                raise OSError(f"short read: got {done} of {total} bytes (connection cut?)")
            out.flush()
            os.fsync(out.fileno())  # the bytes must be on disk before the name points at them
        _verify(tmp.read_bytes(), file, f"downloaded {file.filename}")
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    finally:
        # After a successful replace the temp name no longer exists.
        tmp.unlink(missing_ok=True)


def _content_length(resp: http.client.HTTPResponse) -> int | None:
    value = resp.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _verify(raw: bytes, file: FileSpec, where: str) -> None:
    """Raise DatasetError unless ``raw`` is a valid IDX file with the expected checksum."""
    digest = hashlib.sha256()
    read_idx_bytes(raw, where, digest=digest)
    catalog.check_sha256(digest.hexdigest(), file, where)


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself; not every platform can fsync a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"cannot connect ({exc.reason})"
    if isinstance(exc, http.client.IncompleteRead):
        return "connection cut before the end of the body (IncompleteRead)"
    if type(exc) is OSError:  # our own messages (e.g. short read) need no type prefix
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
