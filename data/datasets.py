"""Load MNIST-style datasets from IDX files, checking everything that is read.

Locations and specs live in ``catalog`` (re-exported here); downloads in ``download``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import catalog
from .catalog import DATASETS, DatasetSpec, find_dataset, search_dirs
from .download import ProgressCallback, download_dataset
from .errors import DatasetError, DatasetNotFound
from .idx import read_idx

__all__ = ["DATASETS", "Dataset", "find_dataset", "load_dataset", "search_dirs"]

IMAGE_SHAPE = (28, 28)
N_CLASSES = 10


# eq=False: field-wise == on arrays is ambiguous; identity equality (and hashing) suffices.
@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split kept as read-only uint8, exactly as stored on disk.

    x_train: (n_train, 28, 28) uint8, y_train: (n_train,) uint8 in 0..9,
    x_test: (n_test, 28, 28) uint8, y_test: (n_test,) uint8 in 0..9.
    The arrays are read-only so that one cached copy can be shared safely;
    convert (e.g. ``x.astype(np.float32) / 255``) rather than modify.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: Path

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, "
            f"classes={len(self.class_names)}, source={str(self.source)!r})"
        )


def load_dataset(
    name: str,
    *,
    download: bool = False,
    progress: ProgressCallback | None = None,
    verify: bool = True,
    directory: str | os.PathLike[str] | None = None,
) -> Dataset:
    """Find, read and check dataset ``name`` ("mnist" or "fashion-mnist").

    Looks in ``search_dirs(name)``; if nothing is found and ``download`` is true,
    downloads into ``<project>/data/<name>/`` first (``progress`` is passed on).
    With ``verify``, each file's decompressed SHA-256 must match the spec.
    ``directory`` skips the search and reads that folder (e.g. one already found and checked).

    Raises ValueError for an unknown name, ``DatasetNotFound`` if no copy
    exists (and ``download`` is false), ``DatasetError`` (``IdxError`` for
    format problems) naming the file for any problem with the content, and
    ``DownloadError`` if a download fails.
    """
    spec = catalog.get_spec(name)
    source = Path(directory) if directory is not None else find_dataset(name)
    if source is None:
        if not download:
            raise DatasetNotFound(_not_found_message(spec))
        source = download_dataset(name, catalog.project_dir(name), progress=progress)

    arrays, digests = {}, {}
    for role in catalog.FILE_ROLES:
        digests[role] = hashlib.sha256() if verify else None
        arrays[role] = read_idx(source / spec.files[role].filename, digest=digests[role])
    # Structure first: "9999 labels for 10000 images" says more than a checksum mismatch.
    for split in ("train", "test"):
        _check_split(source, spec, split, arrays[f"{split}_images"], arrays[f"{split}_labels"])
    if verify:
        for role, digest in digests.items():
            assert digest is not None  # one per file when verifying
            file = spec.files[role]
            catalog.check_sha256(digest.hexdigest(), file, str(source / file.filename))
    return Dataset(
        name=spec.name,
        x_train=arrays["train_images"],
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"],
        y_test=arrays["test_labels"],
        class_names=spec.class_names,
        source=source,
    )


def _check_split(source: Path, spec: DatasetSpec, split: str, x: np.ndarray, y: np.ndarray) -> None:
    """Check the shapes, dtypes and label range of one split, naming the offending file."""
    x_path = source / spec.files[f"{split}_images"].filename
    y_path = source / spec.files[f"{split}_labels"].filename
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
        raise DatasetError(
            f"{x_path}: expected uint8 images of shape (n, 28, 28), got {x.dtype} {x.shape}"
        )
    if y.dtype != np.uint8 or y.ndim != 1:
        raise DatasetError(f"{y_path}: expected uint8 labels of shape (n,), got {y.dtype} {y.shape}")
    if len(x) != len(y):
        raise DatasetError(
            f"{x_path} has {len(x)} images but {y_path} has {len(y)} labels"
        )
    if len(y) and int(y.max()) >= N_CLASSES:
        bad = int(np.argmax(y >= N_CLASSES))
        raise DatasetError(
            f"{y_path}: label {int(y[bad])} at index {bad} is outside 0..{N_CLASSES - 1}"
        )


def _not_found_message(spec: DatasetSpec) -> str:
    searched = "\n".join(f"  {d}" for d in search_dirs(spec.name))
    names = ", ".join(spec.filenames())
    fixes = [
        f"set {catalog.DATA_DIR_ENV} to a directory containing {spec.name}/ with those files",
        f"run `python -m mlp download --dataset {spec.name}`",
    ]
    if spec.install_hint:
        fixes.append(f"run `{spec.install_hint}`")
    return (
        f"dataset {spec.name!r} not found: no directory holds all of {names}.\n"
        f"Searched:\n{searched}\n"
        "To fix: " + "; or ".join(fixes) + "."
    )
