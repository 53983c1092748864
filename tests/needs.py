"""What a test needs from the machine. Without it the test is skipped, except under CI (`CI=true`),
where a missing dataset, browser or database is a failure: CI must run everything.

    from needs import missing
    if not path.exists():
        missing(f"{path} is not installed")
"""

import os
from pathlib import Path

import pytest


def missing(reason):
    """Skip the test for `reason`; fail it instead under CI."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


def chromium_path():
    """Debian's chromium for Playwright to drive (missing() without it or without Playwright)."""
    from harness import CHROMIUM

    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("Playwright is not installed (pip install -r requirements-dev.txt)")
    if not Path(CHROMIUM).exists():
        missing(f"chromium is not installed at {CHROMIUM}")
    return CHROMIUM
