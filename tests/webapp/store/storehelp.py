"""What the store's tests share: limits, a settable clock, model files, an empty database.

PostgreSQL comes from DIGIT_LAB_TEST_POSTGRES_URL (.ci/run starts a throwaway server and sets it);
without it those tests are skipped, except under CI (`CI=true`), where that is a failure.
"""

import os
from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa

from mlp import MLP, model_to_bytes
from needs import missing
from webapp.settings import Settings

OWNER, OTHER = "owner-token-1", "owner-token-2"
HERE, THERE = "203.0.113.7", "198.51.100.9"
#: Limits that never get in the way of a test about something else.
GENEROUS = Settings(max_model_mb=2, store_quota_mb=100, client_store_mb=100, address_store_mb=100,
                    shares_per_hour=1000, address_shares_per_hour=1000, collections_per_hour=1000,
                    address_collections_per_hour=1000)
TABLES = ("collections", "drawings", "models", "schema_version", "alembic_version")


def settings(**changes):
    """GENEROUS with some limits changed."""
    return GENEROUS.model_copy(update=changes)


class Clock:
    """A settable clock (naive UTC) so that "the last hour" and "unopened for 30 days" are exact."""

    def __init__(self):
        self.now = datetime(2026, 1, 1, 12, 0, 0)

    def __call__(self):
        return self.now

    def tick(self, seconds=1):
        self.now += timedelta(seconds=seconds)


def make_model_bytes(seed=0, hidden=8, test_accuracy=None, drawn=None, seconds=(1.5, 2.5), name=None):
    model = MLP([784, hidden, 10], "relu", seed=seed)
    model.meta.update(history=[{"epoch": i + 1, "seconds": s} for i, s in enumerate(seconds)],
                      training={"hidden": [hidden], "optimizer": "adam", "lr": 0.001, "epochs": len(seconds)},
                      dataset="mnist")
    if test_accuracy is not None:
        model.meta["test_accuracy"] = test_accuracy
    if drawn is not None:
        model.meta["drawn_digits"] = {"accuracy": drawn}
    if name is not None:
        model.meta["name"] = name
    return model_to_bytes(model)


GOOD = make_model_bytes()


def collection(n, seed=0):
    """n distinct random drawings (uint8 (n, 28, 28)) labelled 0, 1, ..., 9, 0, ... (int64 (n,))."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), np.arange(n, dtype=np.int64) % 10


def snapshot(store):
    """Every row of the store's tables: what a refused request must leave unchanged."""
    from webapp.store import COLLECTIONS, MODELS

    with store.engine.connect() as conn:
        return [[tuple(r) for r in conn.execute(sa.select(t).order_by(t.c.id)).all()] for t in (MODELS, COLLECTIONS)]


def drop_all(engine):
    with engine.begin() as conn:
        for table in TABLES:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")  # fixed names: test set-up only


def postgres_url():
    """The test PostgreSQL's URL, a database of this test process's own (pytest-xdist runs several at once);
    skips without one (fails under CI)."""
    url = os.environ.get("DIGIT_LAB_TEST_POSTGRES_URL")
    if not url:
        missing("no PostgreSQL: set DIGIT_LAB_TEST_POSTGRES_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = sa.make_url(url)
    mine = base.set(database=f"{base.database}_{worker}")
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": mine.database}):
            conn.exec_driver_sql(f'CREATE DATABASE "{mine.database}"')  # the worker's name: gw0, gw1, ...
    engine.dispose()
    return mine.render_as_string(hide_password=False)
