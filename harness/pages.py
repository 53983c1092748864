"""The app's pages as a browser sees them (Playwright pages): is the app idle, has the server finished a
script run, what does Draw read, how many epochs does Train show.

Tests wait for what they need (an element, a count of script runs, the app idle), never a fixed
time: on a busy machine a page takes as long as it takes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page, WebSocket

# How long a test waits for a condition (an element, a run, an epoch) before it gives up: a guard
# against a hang on a busy machine, never a speed target (benchmarks/ measures speed).
PATIENCE = 120  # seconds
EPOCHS_CAPTION = re.compile(r"^\d+ epochs? · last train loss")  # under the Train page's charts


def settle(page: Page, quiet: float = 0.6, timeout: float = PATIENCE) -> None:
    """Wait until the app has not been running a script for `quiet` seconds (as far as its status widget,
    which skips short runs, shows)."""
    status = page.locator('[data-testid="stStatusWidget"]')
    deadline = time.monotonic() + timeout
    calm_since = None
    while time.monotonic() < deadline:
        if status.count() and status.first.is_visible():
            calm_since = None
        elif calm_since is None:
            calm_since = time.monotonic()
        elif time.monotonic() - calm_since >= quiet:
            return
        time.sleep(0.05)
    raise TimeoutError(f"the app kept running for {timeout} s")


def open_app(page: Page, url: str) -> WebSocket:
    """page.goto(url); the app's websocket, whose frames after_a_run watches."""
    with page.expect_websocket(lambda ws: "/_stcore/stream" in ws.url) as opened:
        page.goto(url)
    return opened.value


def script_finished(payload: str | bytes) -> bool:
    """True if a frame the browser received says that a script run (whole page or fragment) has ended,
    not cut short for another."""
    from google.protobuf.message import DecodeError
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    if isinstance(payload, str):
        return False
    msg = ForwardMsg()
    try:
        msg.ParseFromString(payload)
    except DecodeError:
        return False
    return msg.WhichOneof("type") == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN


def after_a_run(websocket: WebSocket, page: Page, action: Callable[[], object]) -> None:
    """Do `action()` and wait until the server has finished a script run after it (its word on `websocket`,
    from open_app), then until the app is idle.

    For an action whose rerun shows nowhere on the page (the status widget skips short runs, and
    the page's run state may go from "not running" to "not running" between two paints), e.g. a
    slider whose new value only the canvas's pen takes.
    """
    with websocket.expect_event("framereceived", predicate=script_finished, timeout=PATIENCE * 1000):
        action()
    settle(page)


# Resolves when every animation on the page that ends has ended (elements fading in; spinners never end).
ANIMATIONS_DONE_JS = """() => Promise.all(document.getAnimations()
    .filter(a => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
    .map(a => a.finished.catch(() => null)))"""


def prediction(page: Page) -> str:
    """The Draw page's "Prediction" metric (waits for it to show)."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
    metric.wait_for()
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def epochs_shown(page: Page) -> int:
    """The epoch count the Train page shows under its charts (waits for the first)."""
    caption = page.get_by_text(EPOCHS_CAPTION)
    caption.wait_for()
    return int(caption.inner_text().split()[0])
