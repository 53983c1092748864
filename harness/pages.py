"""The app's pages as a browser sees them (Playwright pages): is the app idle, what does Draw read,
how many epochs does Train show."""

import re
import time

EPOCHS_CAPTION = re.compile(r"^\d+ epochs? · last train loss")  # under the Train page's charts


def settle(page, quiet=0.6, timeout=30):
    """Wait until the app has not been running a script for `quiet` seconds."""
    status = page.locator('[data-testid="stStatusWidget"]')
    deadline = time.time() + timeout
    calm_since = None
    while time.time() < deadline:
        if status.count() and status.first.is_visible():
            calm_since = None
        elif calm_since is None:
            calm_since = time.time()
        elif time.time() - calm_since >= quiet:
            return
        time.sleep(0.05)
    raise TimeoutError(f"the app kept running for {timeout} s")


def prediction(page):
    """The Draw page's "Prediction" metric (waits for it to show)."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
    metric.wait_for()
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def epochs_shown(page):
    """The epoch count the Train page shows under its charts (waits for the first)."""
    caption = page.get_by_text(EPOCHS_CAPTION)
    caption.wait_for()
    return int(caption.inner_text().split()[0])
