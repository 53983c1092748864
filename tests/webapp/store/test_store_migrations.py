"""The store's schema through Alembic: from empty, from every released schema, concurrently, all or nothing."""

import shutil
import threading
from datetime import datetime

import pytest
import sqlalchemy as sa
from storehelp import GENEROUS, GOOD, OWNER, collection, make_model_bytes

from webapp.store import COLLECTIONS, HEAD, MODELS, Store, create_engine, migrate


def tables(engine):
    return set(sa.inspect(engine).get_table_names())


def test_migrate_from_empty_then_idempotent(engine):
    s = Store(engine, settings=GENEROUS)
    assert migrate.current_revision(engine) is None
    assert s.migrate() == HEAD == "0003"
    assert tables(engine) == {"alembic_version", "models", "collections"}
    kept = s.put_model(GOOD, name="kept", owner=OWNER)
    with engine.connect() as conn:
        before = conn.execute(sa.select(MODELS)).all()
    assert s.migrate() == HEAD and s.migrate() == HEAD
    with engine.connect() as conn:
        assert conn.execute(sa.select(MODELS)).all() == before  # re-running changes nothing, keeps the data
    assert s.get_model(kept) is not None


def test_the_tables_match_the_schema_the_code_queries(engine):
    """Alembic's migrations build exactly what webapp.store.schema declares (columns and indexes)."""
    Store(engine, settings=GENEROUS).migrate()
    inspector = sa.inspect(engine)
    for table in (MODELS, COLLECTIONS):
        assert {c["name"] for c in inspector.get_columns(table.name)} == {c.name for c in table.c}
        assert {i["name"] for i in inspector.get_indexes(table.name)} == {i.name for i in table.indexes}


def test_concurrent_migrations(db_url):
    """Four servers starting at once (separate engines, so separate connections) all end at the head."""
    engines = [create_engine(db_url) for _ in range(4)]
    barrier, results, errors = threading.Barrier(len(engines)), [], []

    def start(engine):
        try:
            barrier.wait()
            results.append(Store(engine, settings=GENEROUS).migrate())
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == [] and results == [HEAD] * len(engines)
        with engines[0].connect() as conn:
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [(HEAD,)]
        s = Store(engines[0], settings=GENEROUS)
        assert s.get_model(s.put_model(make_model_bytes(), name="after", owner=OWNER)) is not None
    finally:
        for e in engines:
            e.dispose()


BROKEN = '''"""A migration that fails half way (tests only)."""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("half_done", sa.Column("x", sa.Integer))
    op.add_column("models", sa.Column("extra", sa.Integer))
    raise RuntimeError("migration 0004 failed")
'''


def test_a_failing_migration_leaves_nothing_behind(engine, tmp_path, monkeypatch):
    """All migrations run in one transaction (DDL included, on SQLite too): a failure applies none of them."""
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.__file__.replace("migrate.py", "migrations"), scripts,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "0004_broken.py").write_text(BROKEN)
    real = migrate._config

    def with_broken(conn):
        config = real(conn)
        config.set_main_option("script_location", str(scripts))
        return config

    monkeypatch.setattr(migrate, "_config", with_broken)
    monkeypatch.setattr(migrate, "HEAD", "0004")
    with pytest.raises(RuntimeError, match="migration 0004 failed"):
        Store(engine, settings=GENEROUS).migrate()
    assert tables(engine) == set()  # not even 0001-0003, which ran first in the same transaction
    monkeypatch.undo()
    assert Store(engine, settings=GENEROUS).migrate() == HEAD


# --- databases made by the releases before Alembic: schema_version 1 and 2, as they made them ------


def _released_tables(version):
    """The tables as the hand-written migrations made them (frozen copies of that code)."""
    metadata = sa.MetaData()
    sa.Table("schema_version", metadata,
             sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("applied_at", sa.DateTime, nullable=False))
    sa.Table("models", metadata,
             sa.Column("id", sa.String(43), primary_key=True), sa.Column("name", sa.String(80), nullable=False),
             sa.Column("npz", sa.LargeBinary, nullable=False), sa.Column("size", sa.Integer, nullable=False),
             sa.Column("summary", sa.Text, nullable=False), sa.Column("test_accuracy", sa.Float),
             sa.Column("drawn_accuracy", sa.Float), sa.Column("published", sa.Boolean, nullable=False, default=False),
             sa.Column("class_code", sa.String(32)), sa.Column("owner", sa.String(64), nullable=False),
             sa.Column("created_at", sa.DateTime, nullable=False),
             sa.Column("last_used_at", sa.DateTime, nullable=False),
             sa.Index("models_published_class", "published", "class_code"),
             sa.Index("models_owner_created", "owner", "created_at"), sa.Index("models_last_used", "last_used_at"))
    sa.Table("drawings", metadata,
             sa.Column("id", sa.String(43), primary_key=True), sa.Column("model_id", sa.String(43)),
             sa.Column("label", sa.SmallInteger), sa.Column("data", sa.LargeBinary, nullable=False),
             sa.Column("owner", sa.String(64), nullable=False), sa.Column("created_at", sa.DateTime, nullable=False),
             sa.Index("drawings_owner_created", "owner", "created_at"), sa.Index("drawings_model", "model_id"))
    if version >= 2:
        sa.Table("collections", metadata,
                 sa.Column("id", sa.String(43), primary_key=True), sa.Column("owner", sa.String(64), nullable=False),
                 sa.Column("count", sa.Integer, nullable=False), sa.Column("images", sa.LargeBinary, nullable=False),
                 sa.Column("labels", sa.LargeBinary, nullable=False), sa.Column("size", sa.Integer, nullable=False),
                 sa.Column("created_at", sa.DateTime, nullable=False),
                 sa.Column("updated_at", sa.DateTime, nullable=False),
                 sa.Column("last_used_at", sa.DateTime, nullable=False),
                 sa.Index("collections_owner_created", "owner", "created_at"),
                 sa.Index("collections_last_used", "last_used_at"))
    return metadata


WHEN = datetime(2026, 11, 1, 9, 30)


def _released_database(engine, version):
    """A database at hand-written schema `version`, holding a published model, a drawing and (2) a collection."""
    metadata = _released_tables(version)
    metadata.create_all(engine)
    t = metadata.tables
    model = {"id": "M" * 24, "name": "from the old release", "npz": GOOD, "size": len(GOOD),
             "summary": '{"architecture": "784-8-10 relu", "test_accuracy": 0.9}', "test_accuracy": 0.9,
             "drawn_accuracy": None, "published": True, "class_code": "room-1", "owner": "a" * 32,
             "created_at": WHEN, "last_used_at": WHEN}
    with engine.begin() as conn:
        conn.execute(sa.insert(t["schema_version"]),
                     [{"version": v, "applied_at": WHEN} for v in range(1, version + 1)])
        conn.execute(sa.insert(t["models"]).values(model))
        conn.execute(sa.insert(t["drawings"]).values(id="D" * 24, model_id=model["id"], label=3,
                                                     data=b"\x07" * 784, owner="a" * 32, created_at=WHEN))
        if version >= 2:
            images, labels = collection(3)
            conn.execute(sa.insert(t["collections"]).values(
                id="C" * 24, owner="a" * 32, count=3, images=images.tobytes(), labels=labels.astype("uint8").tobytes(),
                size=3 * 785, created_at=WHEN, updated_at=WHEN, last_used_at=WHEN))
    return model


@pytest.mark.parametrize("version", [1, 2])
def test_a_database_of_every_released_schema_is_upgraded_and_keeps_its_rows(engine, version):
    model = _released_database(engine, version)
    assert migrate.current_revision(engine) == migrate.HAND_WRITTEN[version]
    s = Store(engine, settings=GENEROUS)
    assert s.migrate() == HEAD and migrate.current_revision(engine) == HEAD
    assert tables(engine) == {"alembic_version", "models", "collections"}  # drawings: never used, gone
    with engine.connect() as conn:
        row = conn.execute(sa.select(MODELS)).mappings().one()
    assert {k: row[k] for k in model} == model and row["address"] is None
    got = s.get_model(model["id"])
    assert got[2] == GOOD and got[1]["name"] == "from the old release" and got[1]["class_code"] == "room-1"
    assert [r["id"] for r in s.leaderboard("room-1")] == [model["id"]]
    if version >= 2:
        images, labels, created = s.get_collection("C" * 24)
        assert labels.tolist() == [0, 1, 2] and images.tobytes() == collection(3)[0].tobytes()
    kept = s.put_collection(*collection(2), owner=OWNER, address="192.0.2.1")  # the new columns work
    assert s.get_collection(kept) is not None


def test_an_unknown_hand_written_version_is_refused(engine):
    _released_database(engine, 2)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO schema_version (version, applied_at) VALUES (7, '2026-11-02')")
    with pytest.raises(RuntimeError, match="schema_version says 7"):
        Store(engine, settings=GENEROUS).migrate()


def test_sqlite_is_in_wal_mode(tmp_path):
    from webapp.store import default_url

    engine = create_engine(default_url(tmp_path))
    Store(engine, settings=GENEROUS).migrate()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
