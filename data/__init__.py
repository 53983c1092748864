"""Digit Lab data: IDX and CSV readers, dataset specs, loading and verified downloads.

Everything here is pure NumPy + standard library; nothing is cached (caching
belongs to the UI layer).
"""

from .catalog import DATASETS, DatasetSpec, FileSpec, find_dataset, search_dirs
from .csv import load_mnist_csv
from .datasets import Dataset, load_dataset
from .download import download_dataset
from .errors import DatasetError, DatasetNotFound, DownloadError, IdxError
from .idx import read_idx, read_idx_bytes

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetError",
    "DatasetNotFound",
    "DatasetSpec",
    "DownloadError",
    "FileSpec",
    "IdxError",
    "download_dataset",
    "find_dataset",
    "load_dataset",
    "load_mnist_csv",
    "read_idx",
    "read_idx_bytes",
    "search_dirs",
]
