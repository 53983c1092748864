"""Hostile-visitor tests: a real server and real Chromium visitors; where the store is involved, on PostgreSQL
when the test PostgreSQL is set up, else on SQLite (visitors.store_kind). Marked `hostile` (and `browser`,
`slow`): `python -m pytest -m hostile` runs them alone."""

import pytest
from visitors import fresh_store, store_kind


def pytest_collection_modifyitems(items):
    for item in items:
        if "/hostile/" in str(item.fspath):
            item.add_marker(pytest.mark.hostile)
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def store_url(tmp_path):
    """An empty store for the server: a fresh database on the test PostgreSQL, or an SQLite file without one."""
    with fresh_store(store_kind(), tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_store(tmp_path):
    return f"sqlite:///{tmp_path}/store.sqlite"
