"""What each dataset is (files, checksums, mirrors, classes) and where to look for it.

Search locations are module attributes so tests and tools can redirect them
(``monkeypatch.setattr(catalog, "PROJECT_DATA_DIR", tmp_path)``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import DatasetError

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "DatasetSpec",
    "FileSpec",
    "FILE_ROLES",
    "PROJECT_DATA_DIR",
    "SYSTEM_DATA_DIR",
    "check_sha256",
    "find_dataset",
    "get_spec",
    "project_dir",
    "search_dirs",
]

DATA_DIR_ENV = "MLP_DATA_DIR"
# The directory of this package: downloads land in <project>/data/<name>/.
PROJECT_DATA_DIR = Path(__file__).resolve().parent
# Where distribution packages (e.g. dataset-fashion-mnist) install datasets.
SYSTEM_DATA_DIR = Path("/usr/share/datasets")

FILE_ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class FileSpec:
    """One dataset file: its name and the SHA-256 of its decompressed content.

    The hash is of the decompressed bytes because mirrors recompress the same
    data with different gzip settings, so the .gz bytes differ between copies.
    """

    filename: str
    sha256: str


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its four files (by role, see ``FILE_ROLES``), mirrors and class names."""

    name: str
    files: dict[str, FileSpec]
    mirrors: tuple[str, ...]
    class_names: tuple[str, ...]
    install_hint: str = ""

    def filenames(self) -> list[str]:
        """The four file names, in ``FILE_ROLES`` order."""
        return [self.files[role].filename for role in FILE_ROLES]


def _files(train_images: str, train_labels: str, test_images: str, test_labels: str) -> dict[str, FileSpec]:
    return {
        "train_images": FileSpec("train-images-idx3-ubyte.gz", train_images),
        "train_labels": FileSpec("train-labels-idx1-ubyte.gz", train_labels),
        "test_images": FileSpec("t10k-images-idx3-ubyte.gz", test_images),
        "test_labels": FileSpec("t10k-labels-idx1-ubyte.gz", test_labels),
    }


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        files=_files(
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        class_names=tuple(str(d) for d in range(10)),
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        files=_files(
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        class_names=(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
        ),
        install_hint="apt-get install dataset-fashion-mnist",
    ),
}


def get_spec(name: str) -> DatasetSpec:
    """Return the spec of dataset ``name``; ValueError listing known names otherwise."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}"
        ) from None


def project_dir(name: str) -> Path:
    """The project-local directory for dataset ``name`` (where downloads go)."""
    return PROJECT_DATA_DIR / get_spec(name).name


def search_dirs(name: str) -> list[Path]:
    """Directories searched for dataset ``name``, in priority order.

    ``$MLP_DATA_DIR/<name>/`` (only if the variable is set and non-empty),
    then ``<project>/data/<name>/``, then ``/usr/share/datasets/<name>/``.
    """
    spec = get_spec(name)
    dirs = []
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        dirs.append(Path(env).expanduser() / spec.name)
    dirs.append(PROJECT_DATA_DIR / spec.name)
    dirs.append(SYSTEM_DATA_DIR / spec.name)
    return dirs


def find_dataset(name: str) -> Path | None:
    """First directory from ``search_dirs(name)`` holding all four files, else None.

    Only presence is checked here; content is checked when the files are loaded.
    """
    spec = get_spec(name)
    for directory in search_dirs(name):
        if all((directory / f).is_file() for f in spec.filenames()):
            return directory
    return None


def check_sha256(actual_hex: str, file: FileSpec, where: str) -> None:
    """Raise DatasetError naming ``where`` if ``actual_hex`` is not ``file.sha256``."""
    if actual_hex != file.sha256:
        raise DatasetError(
            f"{where}: checksum mismatch: SHA-256 of the decompressed content is "
            f"{actual_hex}, expected {file.sha256} (file corrupt or not the "
            f"official {file.filename})"
        )
