"""The store's fixtures: an empty database on SQLite and on PostgreSQL, a settable clock, a migrated store."""

import pytest
from storehelp import GENEROUS, Clock, drop_all, postgres_url

from webapp.store import Store, create_engine, default_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A URL of an empty database: an SQLite file, or the test PostgreSQL with the store's tables dropped."""
    if request.param == "sqlite":
        return default_url(tmp_path / "store")
    url = postgres_url()
    engine = create_engine(url)
    drop_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url):
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(engine, clock):
    s = Store(engine, settings=GENEROUS, clock=clock)
    s.migrate()
    return s
