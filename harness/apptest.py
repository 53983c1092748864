"""The app under streamlit.testing.v1.AppTest, as the page tests open it."""

import re
import time
from collections.abc import Callable

import streamlit as st
from streamlit.testing.v1 import AppTest

from .server import ROOT

APP = str(ROOT / "app.py")
TIMEOUT = 60


def clear_caches() -> None:
    """Empty what the server's sessions share and read the settings again, as a fresh server has them.

    All of it is made by st.cache_resource factories (webapp.session.resources), so one call empties it.
    """
    from webapp import settings

    st.cache_resource.clear()
    settings.current.cache_clear()


def open_app(page: str | None = None, **query: str) -> AppTest:
    """Run the app (with URL query parameters), optionally switched to app_pages/<page>.py."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def plain(markdown: str) -> str:
    """What a person reads of a Markdown string in which webapp.text.literal escaped a visitor's text."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def metrics(at: AppTest) -> dict[str, str]:
    """label -> value of every st.metric on the page."""
    return {m.label: m.value for m in at.metric}


def wait_for(at: AppTest, predicate: Callable[[AppTest], object], seconds: float = 60) -> AppTest:
    """Rerun the app until predicate(at) holds (a background run progresses meanwhile); the app."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        at.run()
        assert not at.exception, at.exception
        if predicate(at):
            return at
        time.sleep(0.3)
    raise AssertionError("condition not reached in time")
