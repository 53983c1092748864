"""The one way an Engine for the store is made, by the server and by the tests alike."""

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from webapp.settings import ROOT, current

__all__ = ["STORE_FILE", "create_engine", "default_url", "store_url"]

STORE_FILE = "digit_lab.sqlite"


def default_url(data_dir: str | os.PathLike[str] | None = None) -> str:
    """The SQLite URL of `digit_lab.sqlite` in `data_dir` (default: the project's data/), which is created."""
    folder = Path(data_dir) if data_dir is not None else ROOT / "data"
    folder.mkdir(parents=True, exist_ok=True)
    return sa.URL.create("sqlite", database=str((folder / STORE_FILE).resolve())).render_as_string()


def store_url() -> str:
    """The configured store: DIGIT_LAB_STORE_URL if set, else `default_url()`."""
    return current().store_url.strip() or default_url()


def create_engine(url: str | sa.URL, **kwargs: Any) -> sa.Engine:
    """An Engine for `url` fit for many sessions' threads (SQLite: any thread, a 10 s wait for locks)."""
    url = sa.make_url(url)
    if url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10, **kwargs.get("connect_args", {})}
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs.setdefault("pool_pre_ping", True)  # a database restarted under us: reconnect, not fail once
    return sa.create_engine(url, **kwargs)
