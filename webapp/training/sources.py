"""What a worker loads its data from: a dataset's files, read again in the worker. No Streamlit.

A job hands its worker a Loader (webapp/training/protocol.py): one of these functions with its
arguments bound, pickled by reference. Each worker reads its own copy of the data rather than
receiving the server's arrays through the pipe; `data` is imported when called, so importing
this module (as unpickling a Loader does) costs nothing.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from data import Dataset
    from webapp.training.protocol import Loader

__all__ = ["load_replay_and_test", "load_training_split", "replay_source", "training_split"]


def training_split(dataset: Dataset) -> Loader:
    """The Loader of a data.Dataset's training split, for a TrainingJob."""
    return partial(load_training_split, dataset.name, str(dataset.source))


def replay_source(dataset: Dataset) -> Loader:
    """The Loader of a data.Dataset's (training, test) pairs, for start_teaching."""
    return partial(load_replay_and_test, dataset.name, str(dataset.source))


def load_training_split(name: str, directory: str) -> tuple[Any, Any]:
    """(x_train, y_train) of dataset `name` read from `directory` (already checked by the server)."""
    from data import load_dataset

    ds = load_dataset(name, directory=directory, verify=False)
    return ds.x_train, ds.y_train


def load_replay_and_test(name: str, directory: str) -> tuple[Any, Any]:
    """((x_train, y_train), (x_test, y_test)) of dataset `name` in `directory`: what a teach task replays and scores."""
    from data import load_dataset

    ds = load_dataset(name, directory=directory, verify=False)
    return (ds.x_train, ds.y_train), (ds.x_test, ds.y_test)
