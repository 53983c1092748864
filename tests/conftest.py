"""Shared fixtures. Real MNIST comes from $MLP_DATA_DIR (CI sets it to ../shared)."""

import os
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST Dataset; skipped where it is absent, but a failure under CI."""
    from data import DatasetNotFound, load_dataset

    try:
        return load_dataset("mnist")
    except DatasetNotFound as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide MNIST: {e}")
        pytest.skip(f"MNIST not available: {e}")


@pytest.fixture(scope="session")
def mnist_dir(mnist):
    """The directory holding the real MNIST files (same skip/fail rules as `mnist`)."""
    return Path(mnist.source).resolve()


@pytest.fixture(scope="session")
def mnist_small(mnist):
    """(x_train, y_train, x_test, y_test): 5,000 training and 2,000 test images as float32 inputs."""
    from mlp import to_inputs

    return (
        to_inputs(mnist.x_train[:5000]),
        mnist.y_train[:5000].astype(np.int64),
        to_inputs(mnist.x_test[:2000]),
        mnist.y_test[:2000].astype(np.int64),
    )


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium driven by Playwright, one per test module; skipped where it is absent, a failure under CI."""
    from harness import CHROMIUM, CHROMIUM_ARGS

    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide chromium at {CHROMIUM}")
        pytest.skip("chromium is not installed")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
