"""Alembic's environment for the store's migrations (webapp.store.migrate runs them).

`webapp.store.migrate.upgrade(engine)` hands over a connection already in a transaction that holds
the store's write lock, so concurrent servers migrate one at a time and a failing migration
leaves nothing behind. Run from a shell (`alembic -c webapp/store/alembic.ini upgrade head`), the
URL comes from the server's settings (DIGIT_LAB_STORE_URL, else the SQLite file in data/).
"""

from alembic import context
from sqlalchemy import Connection

from webapp.store.schema import METADATA


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from webapp.store.engine import create_engine, store_url

    engine = create_engine(store_url())
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: Connection) -> None:
    # Batch mode: SQLite cannot ALTER most of a table, so Alembic copies it into a new one.
    context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True,
                      transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("the store's migrations run against a database; offline (SQL script) mode is not set up")
run_migrations_online()
