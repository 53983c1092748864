"""Hostile-visitor tests: a real server and real Chromium visitors, on SQLite and on PostgreSQL where
the store is involved. Marked `hostile` (and `browser`, `slow`): `python -m pytest -m hostile` runs them alone."""

import os
import uuid

import pytest
import sqlalchemy as sa

from needs import missing


def pytest_collection_modifyitems(items):
    for item in items:
        if "/hostile/" in str(item.fspath):
            item.add_marker(pytest.mark.hostile)
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """An empty store for the server: an SQLite file, or a fresh database on the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.sqlite"
        return
    url = os.environ.get("DIGIT_LAB_TEST_POSTGRES_URL")
    if not url:
        missing("no PostgreSQL: set DIGIT_LAB_TEST_POSTGRES_URL")
    base = sa.make_url(url)
    name = f"hostile_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')  # a name of our own making
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def sqlite_store(tmp_path):
    return f"sqlite:///{tmp_path}/store.sqlite"
