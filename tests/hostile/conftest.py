"""Hostile-visitor tests: a real server and real Chromium visitors, on SQLite and on PostgreSQL where
the store is involved. Marked `hostile` (and `browser`, `slow`): `python -m pytest -m hostile` runs them alone."""

import pytest
from visitors import fresh_store


def pytest_collection_modifyitems(items):
    for item in items:
        if "/hostile/" in str(item.fspath):
            item.add_marker(pytest.mark.hostile)
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """An empty store for the server: an SQLite file, or a fresh database on the test PostgreSQL."""
    with fresh_store(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_store(tmp_path):
    return f"sqlite:///{tmp_path}/store.sqlite"
