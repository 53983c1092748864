"""The views' and pages' tests: each starts from empty process-wide caches, as a fresh server would."""

import pytest

from harness.apptest import clear_caches


@pytest.fixture(autouse=True)
def fresh_caches():
    """Empty the process-wide caches (st.cache_resource, the settings) before and after the test; a module
    that needs more (e.g. a counted drawn set) defines its own fixture of this name."""
    clear_caches()
    yield
    clear_caches()
