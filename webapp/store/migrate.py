"""Bring a store's database to the current schema with Alembic, once, whoever else starts at the same time.

Databases made before Alembic recorded their version by hand in a `schema_version` table (1 or 2):
they are adopted (stamped with the matching revision) and upgraded from there, keeping their rows.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from webapp.store.schema import HEAD

__all__ = ["HAND_WRITTEN", "current_revision", "upgrade", "write_lock"]

log = logging.getLogger("digit_lab")

#: The hand-written migrations' versions, and the Alembic revision each one's schema is.
HAND_WRITTEN = {1: "0001", 2: "0002"}
_PG_LOCK_KEY = 0x6469676974  # "digit": the advisory lock that serialises migrations and the store's writes


@contextmanager
def write_lock(conn: sa.Connection) -> Iterator[sa.Connection]:
    """Hold the store's write lock for the rest of `conn`'s transaction (which the caller ends).

    SQLite: BEGIN IMMEDIATE (pysqlite would otherwise begin only at the first INSERT, after the
    checks, and run DDL outside any transaction). PostgreSQL: a transaction-scoped advisory lock.
    """
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif dialect == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def _config(conn: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "webapp.store:migrations")
    config.attributes["connection"] = conn
    return config


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at: None for an empty one, "0002" for one versioned by hand as 2."""
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        return revision if revision is not None else _hand_written(conn)


def _hand_written(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("schema_version"):
        return None
    version = conn.scalar(sa.text("SELECT max(version) FROM schema_version"))
    if version not in HAND_WRITTEN:
        raise RuntimeError(f"the store's schema_version says {version!r}, which no release of this app wrote")
    return HAND_WRITTEN[version]


def upgrade(engine: sa.Engine) -> str:
    """Migrate to the current schema in one transaction under the write lock; the revision reached.

    Idempotent. Several servers starting at once take turns (the lock), and a failing migration
    leaves the database as it was.
    """
    with engine.connect() as conn, write_lock(conn):
        before = MigrationContext.configure(conn).get_current_revision()
        config = _config(conn)
        if before is None and (adopted := _hand_written(conn)) is not None:
            command.stamp(config, adopted)
            log.info("store: adopted a database at hand-written schema %s", adopted)
            before = adopted
        if before != HEAD:
            command.upgrade(config, "head")
            log.info("store: schema migrated from %s to %s", before, HEAD)
    return HEAD
