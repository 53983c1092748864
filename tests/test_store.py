"""The shared store (webapp.store) on SQLite and on PostgreSQL.

PostgreSQL comes from DIGIT_LAB_TEST_POSTGRES_URL (.ci/run starts a throwaway server and sets it);
without it those tests are skipped, except under CI (`CI=true`), where that is a failure.
"""

import contextlib
import io
import logging
import os
import pickle
import threading
import zipfile
from datetime import datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from mlp import MLP, model_to_bytes
from webapp import store as store_mod
from webapp.store import (
    COLLECTIONS,
    DRAWINGS,
    MODELS,
    Store,
    StoreError,
    StoreSettings,
    default_url,
    make_engine,
    store_url,
)
from webapp.teaching import MAX_DRAWINGS

OWNER, OTHER = "owner-token-1", "owner-token-2"
GENEROUS = StoreSettings(max_model_bytes=2 * 1024 * 1024, quota_bytes=100 * 1024 * 1024, shares_per_hour=1000)


class Clock:
    """A settable clock (naive UTC) so that "least recently used" and "the last hour" are exact."""

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


def collection(n, seed=0):
    """n distinct random drawings (uint8 (n, 28, 28)) labelled 0, 1, ..., 9, 0, ... (int64 (n,))."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), np.arange(n, dtype=np.int64) % 10


def _drop_all(engine):
    with engine.begin() as conn:
        for table in ("collections", "drawings", "models", "schema_version"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")  # fixed names: test set-up only


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A URL of an empty database: an SQLite file, or the test PostgreSQL with the store's tables dropped."""
    if request.param == "sqlite":
        return default_url(tmp_path / "store")
    url = os.environ.get("DIGIT_LAB_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must provide PostgreSQL: DIGIT_LAB_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL: set DIGIT_LAB_TEST_POSTGRES_URL")
    engine = make_engine(url)
    _drop_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
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


def snapshot(store):
    """Everything a refused request must leave unchanged."""
    with store.engine.connect() as conn:
        models = conn.execute(sa.select(MODELS).order_by(MODELS.c.id)).all()
        drawings = conn.execute(sa.select(DRAWINGS).order_by(DRAWINGS.c.id)).all()
        versions = conn.execute(sa.select(store_mod.SCHEMA_VERSION)).all()
        collections = conn.execute(sa.select(COLLECTIONS).order_by(COLLECTIONS.c.id)).all()
    return ([tuple(r) for r in models], [tuple(r) for r in drawings], [tuple(r) for r in versions],
            [tuple(r) for r in collections])


# --- migrations -------------------------------------------------------------------------------------


def test_migrate_from_empty_then_idempotent(engine):
    s = Store(engine, settings=GENEROUS)
    assert s.schema_version() == 0
    assert s.migrate() == len(store_mod.MIGRATIONS) == 2
    tables = set(sa.inspect(engine).get_table_names())
    assert {"schema_version", "models", "drawings", "collections"} <= tables
    s.put_model(make_model_bytes(), name="kept", owner=OWNER)
    before = snapshot(s)
    assert s.migrate() == 2 and s.migrate() == 2
    assert snapshot(s) == before  # re-running changes nothing, keeps the data
    assert len(before[2]) == 2


def test_concurrent_migrations(db_url):
    """Four servers starting at once (separate engines, so separate connections) all end at the last version."""
    engines = [make_engine(db_url) for _ in range(4)]
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
        last = len(store_mod.MIGRATIONS)
        assert errors == [] and results == [last] * len(engines)
        s = Store(engines[0], settings=GENEROUS)
        assert s.schema_version() == last
        assert len(snapshot(s)[2]) == last  # one row per version, not one per server
        assert s.get_model(s.put_model(make_model_bytes(), name="after", owner=OWNER)) is not None
    finally:
        for e in engines:
            e.dispose()


def test_concurrent_migrations_without_the_lock_converge(db_url, monkeypatch):
    """The fallback for a database without the write lock: a migration that collides with another
    (PostgreSQL: a unique violation on the new table's type) is checked again, not raised."""
    @contextlib.contextmanager
    def unlocked(self):
        with self.engine.begin() as conn:
            yield conn

    if not db_url.startswith("postgresql"):
        pytest.skip("on SQLite the store always holds its lock (BEGIN IMMEDIATE)")
    monkeypatch.setattr(Store, "_write", unlocked)
    test_concurrent_migrations(db_url)


def test_a_failing_migration_leaves_nothing_behind(engine, monkeypatch):
    """Migrations run in one transaction (DDL included, on SQLite too): a failure applies none of them."""
    def broken(conn):
        sa.Table("half_done", sa.MetaData(), sa.Column("x", sa.Integer)).create(conn)
        raise RuntimeError("migration 3 failed")

    monkeypatch.setattr(store_mod, "MIGRATIONS", (*store_mod.MIGRATIONS, broken))
    s = Store(engine, settings=GENEROUS)
    with pytest.raises(RuntimeError, match="migration 3 failed"):
        s.migrate()
    assert s.schema_version() == 0
    assert not {"half_done", "models", "collections", "schema_version"} & set(sa.inspect(engine).get_table_names())
    monkeypatch.setattr(store_mod, "MIGRATIONS", store_mod.MIGRATIONS[:2])
    assert s.migrate() == 2


def test_migrating_a_version_1_database_keeps_its_rows(engine, clock, monkeypatch):
    """A store made before collections existed (version 1, with a model and a drawing) gains the
    collections table and keeps every row, byte for byte."""
    monkeypatch.setattr(store_mod, "MIGRATIONS", store_mod.MIGRATIONS[:1])
    old = Store(engine, settings=GENEROUS, clock=clock)
    assert old.migrate() == 1
    assert "collections" not in sa.inspect(engine).get_table_names()
    model_id = old.put_model(GOOD, name="from v1", owner=OWNER, published=True, class_code="room-1")
    drawing_id = old.put_drawing(np.full((28, 28), 9, np.uint8), owner=OWNER, label=4, model_id=model_id)
    with engine.connect() as conn:
        rows = (conn.execute(sa.select(MODELS)).all(), conn.execute(sa.select(DRAWINGS)).all())
    monkeypatch.undo()

    new = Store(engine, settings=GENEROUS, clock=clock)
    assert new.schema_version() == 1
    assert new.migrate() == 2 and new.schema_version() == 2
    with engine.connect() as conn:
        assert (conn.execute(sa.select(MODELS)).all(), conn.execute(sa.select(DRAWINGS)).all()) == rows
    assert new.get_model(model_id)[2] == GOOD and new.get_drawing(drawing_id)["label"] == 4
    kept = new.put_collection(*collection(3), owner=OWNER)
    assert new.get_collection(kept)[1].tolist() == [0, 1, 2]


def test_sqlite_is_in_wal_mode(tmp_path):
    engine = make_engine(default_url(tmp_path))
    Store(engine, settings=GENEROUS).migrate()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


# --- models -----------------------------------------------------------------------------------------


def test_round_trip_is_bit_for_bit(store):
    data = make_model_bytes(seed=3, hidden=12, test_accuracy=0.9731, drawn=0.9, seconds=(1.25, 2.0, 3.0))
    model_id = store.put_model(data, name="  Ada's model  ", owner=OWNER, class_code="Room-7")
    model, summary, got = store.get_model(model_id)
    assert got == data and type(got) is bytes
    original = store_mod.load_model(data)
    for a, b in zip(model.get_weights(), original.get_weights()):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert summary["id"] == model_id and summary["name"] == "Ada's model" and summary["class_code"] == "room-7"
    assert summary["architecture"] == "784-12-10 relu" and summary["layer_sizes"] == [784, 12, 10]
    assert summary["test_accuracy"] == 0.9731 and summary["drawn_accuracy"] == 0.9
    assert summary["training_seconds"] == 6.25 and summary["epochs"] == 3
    assert summary["training"]["optimizer"] == "adam" and summary["published"] is False
    assert summary["created"] and summary["shared"] == "2026-01-01T12:00:00"


def test_ids_are_unguessable_and_distinct(store):
    assert store_mod.ID_BYTES * 8 >= 128
    ids = [store.put_model(make_model_bytes(), name=f"m{i}", owner=OWNER) for i in range(25)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) >= 22 and store_mod.valid_id(i) for i in ids)
    many = {store_mod.new_id() for _ in range(20000)}
    assert len(many) == 20000


def test_get_marks_the_model_used(store, clock):
    model_id = store.put_model(make_model_bytes(), name="m", owner=OWNER)
    clock.tick(3600)
    assert store.get_model(model_id) is not None
    with store.engine.connect() as conn:
        used = conn.scalar(sa.select(MODELS.c.last_used_at).where(MODELS.c.id == model_id))
    assert used == clock.now


# --- hostile input: one line per case ----------------------------------------------------------------

HOSTILE_IDS = [
    ("sql injection", "'; DROP TABLE models;--"),
    ("sql injection, id-length", "x' OR '1'='1' --aaaaaaaaaaaaaaa"),
    ("empty", ""),
    ("too long (10 MB)", "A" * 10_000_000),
    ("one over the longest id", "A" * 44),
    ("too short", "Abc123"),
    ("unicode look-alikes", "ｍｏｄｅｌｍｏｄｅｌｍｏｄｅｌｍｏｄｅｌｍｏｄｅｌ"),
    ("emoji", "🙂" * 24),
    ("NUL byte", "A" * 12 + "\x00" + "A" * 11),
    ("path traversal", "../../../../etc/passwd"),
    ("url-encoded traversal", "..%2F..%2F..%2Fetc%2Fpasswd"),
    ("trailing newline", "A" * 24 + "\n"),
    ("well formed but unknown", "A" * 24),
    ("not a string: None", None),
    ("not a string: int", 12345),
    ("not a string: bytes", b"A" * 24),
    ("not a string: list", ["A" * 24]),
]


@pytest.mark.parametrize("hostile", [c[1] for c in HOSTILE_IDS], ids=[c[0] for c in HOSTILE_IDS])
def test_hostile_ids_find_nothing_and_change_nothing(store, hostile):
    keep = store.put_model(make_model_bytes(), name="keep", owner=OWNER, published=True)
    store.put_drawing(np.zeros((28, 28), np.uint8), owner=OWNER, label=1)
    store.put_collection(*collection(2), owner=OWNER)
    before = snapshot(store)
    assert store.get_model(hostile) is None
    assert store.get_drawing(hostile) is None
    assert store.get_collection(hostile) is None
    assert store.publish(hostile, OWNER, False) is False
    assert snapshot(store) == before
    assert store.get_model(keep) is not None


def _zip_of(**members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _model_with_nan():
    model = MLP([784, 8, 10], "relu")
    weights = model.get_weights()
    weights[0][0, 0] = np.nan
    model.set_weights(weights)
    return model_to_bytes(model)


GOOD = make_model_bytes()
HOSTILE_PUTS = [  # (case, put_model keyword arguments over a good share, the StoreError's message)
    ("name empty", {"name": ""}, "needs a name"),
    ("name only spaces", {"name": "   \t "}, "needs a name"),
    ("name too long", {"name": "x" * 81}, "at most 80 characters"),
    ("name with NUL", {"name": "a\x00b"}, "control or formatting"),
    ("name with newline", {"name": "line\nbreak"}, "control or formatting"),
    ("name with bidi override", {"name": "evil\u202etxt.exe"}, "control or formatting"),
    ("name with a lone surrogate", {"name": "bad \ud800 name"}, "control or formatting"),
    ("name not text", {"name": 42}, "must be text"),
    ("name None", {"name": None}, "must be text"),
    ("class code empty", {"class_code": ""}, "class code"),
    ("class code too long", {"class_code": "a" * 33}, "class code"),
    ("class code with space", {"class_code": "room 7"}, "class code"),
    ("class code sql injection", {"class_code": "'; DROP TABLE models;--"}, "class code"),
    ("class code path traversal", {"class_code": "../x"}, "class code"),
    ("class code unicode", {"class_code": "klasse-ä"}, "class code"),
    ("class code Kelvin sign", {"class_code": "\u212a"}, "class code"),
    ("class code not text", {"class_code": 7}, "class code"),
    ("owner empty", {"owner": ""}, "session token"),
    ("owner too long", {"owner": "o" * 65}, "session token"),
    ("owner traversal", {"owner": "../../x"}, "session token"),
    ("owner None", {"owner": None}, "session token"),
    ("bytes: not a zip", {"model_bytes": b"hello, not a zip"}, "not a Digit Lab model file: not a model file"),
    ("bytes: empty", {"model_bytes": b""}, "not a Digit Lab model file"),
    ("bytes: a pickle", {"model_bytes": pickle.dumps({"W0": np.zeros(3)})}, "not a Digit Lab model file"),
    ("bytes: a zip, not an npz", {"model_bytes": _zip_of(**{"readme.txt": b"hi"})}, "no metadata record"),
    ("bytes: truncated npz", {"model_bytes": GOOD[: len(GOOD) // 2]}, "not a Digit Lab model file"),
    ("bytes: npz over the cap", {"model_bytes": make_model_bytes(hidden=1024)}, "at most 2 MB"),
    ("bytes: NaN weights", {"model_bytes": _model_with_nan()}, "NaN or infinite"),
    ("bytes: a str", {"model_bytes": "PK\x03\x04"}, "bytes of its .npz"),
    ("bytes: None", {"model_bytes": None}, "bytes of its .npz"),
]


@pytest.mark.parametrize("override,message", [c[1:] for c in HOSTILE_PUTS], ids=[c[0] for c in HOSTILE_PUTS])
def test_hostile_shares_are_refused_and_change_nothing(store, override, message):
    store.put_model(GOOD, name="keep", owner=OWNER, published=True, class_code="room-7")
    before = snapshot(store)
    kwargs = {"model_bytes": GOOD, "name": "new", "owner": OTHER, "class_code": None, **override}
    with pytest.raises(StoreError, match=message) as refused:
        store.put_model(kwargs.pop("model_bytes"), **kwargs)
    assert not any(leak in str(refused.value) for leak in ("/tmp", "/work", "sqlite", "postgres", "Traceback"))
    assert snapshot(store) == before


HOSTILE_LISTS = [
    ("class code sql injection", {"class_code": "x' OR 1=1 --"}, "class code"),
    ("class code 10 MB", {"class_code": "a" * 10_000_000}, "class code"),
    ("sort by a column name", {"sort": "npz"}, "cannot sort"),
    ("sort sql injection", {"sort": "name; DROP TABLE models"}, "cannot sort"),
    ("limit not a number", {"limit": "10; DROP TABLE models"}, "whole number"),
]


@pytest.mark.parametrize("kwargs,message", [c[1:] for c in HOSTILE_LISTS], ids=[c[0] for c in HOSTILE_LISTS])
def test_hostile_listings_are_refused(store, kwargs, message):
    store.put_model(GOOD, name="keep", owner=OWNER, published=True)
    before = snapshot(store)
    with pytest.raises(StoreError, match=message):
        store.list_published(**kwargs)
    assert snapshot(store) == before


HOSTILE_DRAWINGS = [
    ("wrong shape", {"image": np.zeros((28, 27), np.uint8)}, "28x28 uint8"),
    ("float image", {"image": np.zeros((28, 28), np.float32)}, "28x28 uint8"),
    ("huge image", {"image": np.zeros((2800, 2800), np.uint8)}, "28x28 uint8"),
    ("a string", {"image": "0" * 784}, "28x28 uint8"),
    ("label 10", {"label": 10}, "digit 0-9"),
    ("label -1", {"label": -1}, "digit 0-9"),
    ("label True", {"label": True}, "digit 0-9"),
    ("label text", {"label": "3"}, "digit 0-9"),
    ("model id sql injection", {"model_id": "'; DROP TABLE drawings;--"}, "shared model's id"),
    ("owner empty", {"owner": ""}, "session token"),
]


@pytest.mark.parametrize("override,message", [c[1:] for c in HOSTILE_DRAWINGS], ids=[c[0] for c in HOSTILE_DRAWINGS])
def test_hostile_drawings_are_refused(store, override, message):
    store.put_drawing(np.zeros((28, 28), np.uint8), owner=OWNER)
    before = snapshot(store)
    kwargs = {"image": np.full((28, 28), 7, np.uint8), "owner": OWNER, "label": 3, "model_id": None, **override}
    with pytest.raises(StoreError, match=message):
        store.put_drawing(kwargs.pop("image"), **kwargs)
    assert snapshot(store) == before


# --- limits -----------------------------------------------------------------------------------------


def test_rate_limit_per_owner(engine, clock):
    s = Store(engine, settings=StoreSettings(shares_per_hour=3), clock=clock)
    s.migrate()
    for _ in range(3):
        s.put_model(GOOD, name="m", owner=OWNER)
        clock.tick(60)
    before = snapshot(s)
    with pytest.raises(StoreError, match="3 models in the last hour"):
        s.put_model(GOOD, name="m", owner=OWNER)
    assert snapshot(s) == before
    s.put_model(GOOD, name="m", owner=OTHER)  # another session is not held back
    clock.tick(3600 - 3 * 60 + 1)  # the first share is now over an hour old
    s.put_model(GOOD, name="m", owner=OWNER)
    with pytest.raises(StoreError, match="last hour"):
        s.put_model(GOOD, name="m", owner=OWNER)


def test_quota_evicts_least_recently_used(engine, clock):
    size = len(GOOD)
    s = Store(engine, settings=StoreSettings(quota_bytes=int(3.5 * size), shares_per_hour=100), clock=clock)
    s.migrate()
    ids = {}
    for name in "abc":
        ids[name] = s.put_model(GOOD, name=name, owner=OWNER)
        clock.tick()
    assert s.get_model(ids["a"]) is not None  # a is now the most recently used: b is the least
    clock.tick()
    ids["d"] = s.put_model(GOOD, name="d", owner=OWNER)
    assert s.get_model(ids["b"]) is None
    for name in "cad":  # each get marks it used: c is now the least recently used
        assert s.get_model(ids[name]) is not None
        clock.tick()
    ids["e"] = s.put_model(GOOD, name="e", owner=OWNER)
    assert s.get_model(ids["c"]) is None
    assert [m["name"] for m in s.list_owned(OWNER)] == ["e", "d", "a"]


def test_quota_never_evicts_the_new_model(engine, clock):
    size = len(GOOD)
    s = Store(engine, settings=StoreSettings(quota_bytes=int(1.5 * size)), clock=clock)
    s.migrate()
    first = s.put_model(GOOD, name="first", owner=OWNER)
    clock.tick()
    second = s.put_model(GOOD, name="second", owner=OWNER)
    assert s.get_model(first) is None and s.get_model(second) is not None
    small = Store(engine, settings=StoreSettings(quota_bytes=size - 1), clock=clock)
    before = snapshot(small)
    with pytest.raises(StoreError, match="larger than this server's whole store"):
        small.put_model(GOOD, name="too big", owner=OTHER)
    assert snapshot(small) == before  # nothing evicted for a model that can never fit


# --- gallery ----------------------------------------------------------------------------------------


def test_publish_list_and_leaderboard(store, clock):
    def share(name, acc, drawn, code, owner=OWNER, published=True):
        clock.tick(60)
        return store.put_model(make_model_bytes(test_accuracy=acc, drawn=drawn), name=name, owner=owner,
                               published=published, class_code=code)

    a = share("alpha", 0.95, 0.80, "room-7")
    b = share("Bravo", 0.99, 0.70, "room-7", owner=OTHER)
    c = share("charlie", None, 0.90, "room-7")
    d = share("delta", 0.97, None, None)
    hidden = share("echo", 1.0, 1.0, "room-7", published=False)

    names = lambda rows: [r["name"] for r in rows]  # noqa: E731
    assert names(store.list_published()) == ["Bravo", "delta", "alpha", "charlie"]  # unscored last
    assert names(store.list_published(sort="drawn")) == ["charlie", "alpha", "Bravo", "delta"]
    assert names(store.list_published(sort="created")) == ["delta", "charlie", "Bravo", "alpha"]
    assert names(store.list_published(sort="name")) == ["alpha", "Bravo", "charlie", "delta"]
    assert names(store.list_published(limit=2)) == ["Bravo", "delta"]
    assert names(store.leaderboard("ROOM-7")) == ["Bravo", "alpha", "charlie"]  # codes are case-insensitive
    assert store.leaderboard("room-8") == []
    row = store.leaderboard("room-7")[0]
    assert row["id"] == b and row["architecture"] == "784-8-10 relu" and row["training"]["optimizer"] == "adam"
    assert row["test_accuracy"] == 0.99 and row["drawn_accuracy"] == 0.70 and row["training_seconds"] == 4.0
    assert row["class_code"] == "room-7" and row["created"]

    assert store.publish(hidden, OTHER) is False  # only the owner publishes
    assert store.publish(hidden, OWNER) is True
    assert names(store.leaderboard("room-7"))[0] == "echo"
    assert store.publish(hidden, OWNER, False) is True
    assert "echo" not in names(store.list_published())
    assert sorted(r["id"] for r in store.list_owned(OWNER)) == sorted([a, c, d, hidden])
    with pytest.raises(StoreError, match="class code"):
        store.leaderboard(None)


def test_listing_never_reads_model_files(store):
    store.put_model(GOOD, name="m", owner=OWNER, published=True)
    row = store.list_published()[0]
    assert "npz" not in row and row["size"] == len(GOOD)


# --- corruption -------------------------------------------------------------------------------------


@pytest.mark.parametrize("column,value", [
    ("npz", b"PK\x03\x04 garbage"),
    ("npz", GOOD[:-100]),
    ("summary", "{not json"),
    ("summary", "[1, 2]"),
])
def test_a_corrupt_row_reads_as_none_and_is_logged(store, caplog, column, value):
    good = store.put_model(GOOD, name="good", owner=OWNER, published=True)
    bad = store.put_model(GOOD, name="bad", owner=OWNER, published=True)
    with store.engine.begin() as conn:
        conn.execute(sa.update(MODELS).where(MODELS.c.id == bad).values({column: value}))
    with caplog.at_level(logging.ERROR, logger="digit_lab"):
        assert store.get_model(bad) is None
    assert bad in caplog.text and "corrupt" in caplog.text
    assert store.get_model(good) is not None
    listed = [r["id"] for r in store.list_published()]
    assert good in listed and (bad in listed) == (column == "npz")


def test_drawings_round_trip_and_corrupt_drawing(store):
    image = np.arange(784, dtype=np.uint32).reshape(28, 28).astype(np.uint8)
    model_id = store.put_model(GOOD, name="m", owner=OWNER)
    drawing_id = store.put_drawing(image, owner=OWNER, label=np.int64(7), model_id=model_id)
    got = store.get_drawing(drawing_id)
    assert np.array_equal(got["image"], image) and got["image"].dtype == np.uint8
    assert got["label"] == 7 and got["model_id"] == model_id
    assert store.get_drawing(store.put_drawing(image, owner=OWNER))["label"] is None
    with store.engine.begin() as conn:
        conn.execute(sa.update(DRAWINGS).where(DRAWINGS.c.id == drawing_id).values(data=b"short"))
    assert store.get_drawing(drawing_id) is None


def test_drawing_rate_limit(engine):
    s = Store(engine, settings=StoreSettings(drawings_per_hour=2))
    s.migrate()
    s.put_drawing(np.zeros((28, 28), np.uint8), owner=OWNER)
    s.put_drawing(np.zeros((28, 28), np.uint8), owner=OWNER)
    with pytest.raises(StoreError, match="2 drawings in the last hour"):
        s.put_drawing(np.zeros((28, 28), np.uint8), owner=OWNER)


def test_an_unreachable_store_reads_as_none_and_refuses_writes(tmp_path, caplog):
    s = Store(make_engine(default_url(tmp_path)), settings=GENEROUS)  # never migrated: no tables
    assert s.get_model("A" * 24) is None and s.get_drawing("A" * 24) is None
    with pytest.raises(StoreError, match="not available right now"):
        s.put_model(GOOD, name="m", owner=OWNER)
    with pytest.raises(StoreError, match="not available right now"):
        s.list_published()
    assert "store: listing models failed" in caplog.text  # the detail goes to the log only


# --- many sessions at once --------------------------------------------------------------------------


def test_many_threads_share_one_store(store):
    ids, errors = [], []

    def session(i):
        try:
            model_id = store.put_model(GOOD, name=f"m{i}", owner=f"owner-{i}", published=True)
            assert store.get_model(model_id)[2] == GOOD
            assert store.publish(model_id, f"owner-{i}", True)
            ids.append(model_id)
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(set(ids)) == 8
    assert len(store.list_published()) == 8


# --- settings and URLs ------------------------------------------------------------------------------


def test_urls_and_settings(tmp_path, monkeypatch):
    url = default_url(tmp_path / "new" / "folder")
    assert (tmp_path / "new" / "folder").is_dir() and url.endswith("/new/folder/digit_lab.sqlite")
    assert url.startswith("sqlite:///")
    monkeypatch.delenv("DIGIT_LAB_STORE_URL", raising=False)
    assert store_url(tmp_path) == default_url(tmp_path)
    monkeypatch.setenv("DIGIT_LAB_STORE_URL", "postgresql+psycopg://u:p@db.example/lab")
    assert store_url(tmp_path) == "postgresql+psycopg://u:p@db.example/lab"

    assert StoreSettings.from_env() == StoreSettings()
    assert StoreSettings().max_model_bytes == store_mod.MAX_UPLOAD_MB * 1024 * 1024
    monkeypatch.setenv("DIGIT_LAB_STORE_QUOTA_MB", "1.5")
    monkeypatch.setenv("DIGIT_LAB_SHARES_PER_HOUR", "5")
    got = StoreSettings.from_env()
    assert got.quota_bytes == int(1.5 * 1024 * 1024) and got.shares_per_hour == 5
    monkeypatch.setenv("DIGIT_LAB_STORE_MAX_MODEL_MB", "lots")
    with pytest.raises(ValueError, match="DIGIT_LAB_STORE_MAX_MODEL_MB must be a number"):
        StoreSettings.from_env()
    monkeypatch.setenv("DIGIT_LAB_STORE_MAX_MODEL_MB", "-1")
    with pytest.raises(ValueError, match="at least"):
        StoreSettings.from_env()


# --- collections: a user's teaching drawings, kept by private link ---------------------------------


def test_collection_round_trip_is_exact(store):
    images, labels = collection(MAX_DRAWINGS, seed=1)
    kept = store.put_collection(images, labels.astype(np.uint8), owner=OWNER)
    assert store_mod.valid_id(kept) and len(kept) * 6 >= 128  # base64: 6 bits a character
    got_images, got_labels, created = store.get_collection(kept)
    assert got_images.dtype == np.uint8 and np.array_equal(got_images, images)
    assert got_labels.dtype == np.int64 and got_labels.tolist() == labels.tolist()
    assert created == "2026-01-01T12:00:00"
    got_images[0, 0, 0] ^= 1  # the caller's copy: the store's stays as kept
    assert np.array_equal(store.get_collection(kept)[0], images)
    with store.engine.connect() as conn:  # a full collection is under 160 KB
        size = conn.scalar(sa.select(COLLECTIONS.c.size).where(COLLECTIONS.c.id == kept))
    assert size == MAX_DRAWINGS * 785 < 160_000


def test_saving_again_replaces_only_the_owners_collection(store, clock):
    first = store.put_collection(*collection(3), owner=OWNER)
    clock.tick(60)
    images, labels = collection(5, seed=2)
    assert store.put_collection(images, labels, owner=OWNER, replace=first) == first  # same link, new contents
    got = store.get_collection(first)
    assert np.array_equal(got[0], images) and got[1].tolist() == [0, 1, 2, 3, 4]
    assert got[2] == "2026-01-01T12:00:00"  # created when first kept
    row = lambda: next(r for r in snapshot(store)[3] if r[0] == first)  # noqa: E731
    before = row()
    other = store.put_collection(*collection(1, seed=3), owner=OTHER, replace=first)  # not OTHER's to change
    assert other != first and row() == before
    assert store.get_collection(other)[1].tolist() == [0]
    gone = store_mod.new_id()  # e.g. removed to make room: a new collection, not an error
    fresh = store.put_collection(*collection(2), owner=OWNER, replace=gone)
    assert fresh != gone and store.get_collection(gone) is None and store.get_collection(fresh) is not None


def _images(shape, dtype=np.uint8):
    return np.zeros(shape, dtype)


HOSTILE_COLLECTIONS = [  # (case, put_collection arguments over three good drawings, the StoreError's message)
    ("no drawings", {"images": _images((0, 28, 28)), "labels": np.zeros(0, np.int64)}, "no drawings to keep"),
    ("one over the cap", {"images": _images((MAX_DRAWINGS + 1, 28, 28)),
                          "labels": np.zeros(MAX_DRAWINGS + 1, np.int64)}, f"at most {MAX_DRAWINGS} drawings"),
    ("a million drawings", {"images": _images((10**6, 1, 1)), "labels": np.zeros(10**6, np.int64)}, "(n, 28, 28)"),
    ("one drawing, not a stack", {"images": _images((28, 28))}, r"\(n, 28, 28\) uint8 array, got shape \(28, 28\)"),
    ("wrong side", {"images": _images((3, 28, 27))}, "got shape"),
    ("float images", {"images": _images((3, 28, 28), np.float32)}, "of float32"),
    ("a list of images", {"images": [[[0] * 28] * 28] * 3}, "got list"),
    ("bytes", {"images": b"\x00" * 3 * 784}, "got bytes"),
    ("None images", {"images": None}, "got NoneType"),
    ("label 10", {"labels": np.array([1, 10, 2])}, "digit 0-9, got 10"),
    ("label -1", {"labels": np.array([1, -1, 2])}, "digit 0-9, got -1"),
    ("label past int64", {"labels": np.array([2**63, 1, 2], np.uint64)}, "digit 0-9"),
    ("float labels", {"labels": np.array([1.0, 2.0, 3.0])}, "integer label each"),
    ("bool labels", {"labels": np.array([True, False, True])}, "integer label each"),
    ("text labels", {"labels": np.array(["1", "2", "3"])}, "integer label each"),
    ("a list of labels", {"labels": [1, 2, 3]}, "integer label each"),
    ("too few labels", {"labels": np.array([1, 2])}, r"label each \(3\)"),
    ("labels as a column", {"labels": np.array([[1], [2], [3]])}, "integer label each"),
    ("owner empty", {"owner": ""}, "session token"),
    ("owner sql injection", {"owner": "x'; DROP TABLE collections;--"}, "session token"),
    ("replace: sql injection", {"replace": "'; DROP TABLE collections;--"}, "kept collection's id"),
    ("replace: too long", {"replace": "A" * 10_000}, "kept collection's id"),
    ("replace: not text", {"replace": 7}, "kept collection's id"),
]


@pytest.mark.parametrize("override,message", [c[1:] for c in HOSTILE_COLLECTIONS],
                         ids=[c[0] for c in HOSTILE_COLLECTIONS])
def test_hostile_collections_are_refused_and_change_nothing(store, override, message):
    kept = store.put_collection(*collection(2), owner=OWNER)
    before = snapshot(store)
    images, labels = collection(3, seed=5)
    kwargs = {"images": images, "labels": labels, "owner": OWNER, "replace": None, **override}
    with pytest.raises(StoreError, match=message) as refused:
        store.put_collection(kwargs.pop("images"), kwargs.pop("labels"), **kwargs)
    assert len(str(refused.value).splitlines()) == 1 and len(str(refused.value)) < 200
    assert snapshot(store) == before
    assert store.get_collection(kept)[1].tolist() == [0, 1]


def test_collection_rate_limit_counts_new_collections_per_owner(engine, clock):
    s = Store(engine, settings=StoreSettings(collections_per_hour=2), clock=clock)
    s.migrate()
    first = s.put_collection(*collection(1), owner=OWNER)
    clock.tick(60)
    s.put_collection(*collection(2), owner=OWNER)
    before = snapshot(s)
    with pytest.raises(StoreError, match="kept 2 sets of drawings in the last hour"):
        s.put_collection(*collection(3), owner=OWNER)
    assert snapshot(s) == before
    assert s.put_collection(*collection(4), owner=OWNER, replace=first) == first  # saving again is no new set
    s.put_collection(*collection(1), owner=OTHER)  # another session is not held back
    clock.tick(3600 - 60 + 1)  # the first is now over an hour old
    s.put_collection(*collection(1), owner=OWNER)
    with pytest.raises(StoreError, match="last hour"):
        s.put_collection(*collection(1), owner=OWNER)


def test_collection_quota_removes_the_least_recently_used(engine, clock):
    s = Store(engine, settings=StoreSettings(collections_quota_bytes=int(3.5 * 10 * 785),
                                             collections_per_hour=100), clock=clock)
    s.migrate()
    ids = {}
    for name in "abc":
        ids[name] = s.put_collection(*collection(10), owner=OWNER)
        clock.tick()
    assert s.get_collection(ids["a"]) is not None  # a is now the most recently used: b is the least
    clock.tick()
    ids["d"] = s.put_collection(*collection(10), owner=OWNER)
    assert s.get_collection(ids["b"]) is None
    assert all(s.get_collection(ids[n]) is not None for n in "acd")
    clock.tick()
    assert s.put_collection(*collection(10), owner=OWNER, replace=ids["a"]) == ids["a"]  # a replace never evicts itself
    assert s.get_collection(ids["a"]) is not None
    models = snapshot(s)[0]
    assert models == []  # collections never evict models (their quotas are separate)


@pytest.mark.parametrize("column,value", [
    ("images", b"short"),
    ("labels", b"\x01\x02"),
    ("labels", b"\x01\x0c\x02"),  # a label of 12
    ("count", 0),
    ("count", 10**6),
])
def test_a_corrupt_collection_reads_as_none_and_is_logged(store, caplog, column, value):
    good = store.put_collection(*collection(3), owner=OWNER)
    bad = store.put_collection(*collection(3), owner=OWNER)
    with store.engine.begin() as conn:
        conn.execute(sa.update(COLLECTIONS).where(COLLECTIONS.c.id == bad).values({column: value}))
    with caplog.at_level(logging.ERROR, logger="digit_lab"):
        assert store.get_collection(bad) is None
    assert bad in caplog.text and "corrupt" in caplog.text
    assert store.get_collection(good) is not None


def test_an_unreachable_store_has_no_collections_and_refuses_to_keep(tmp_path, caplog):
    s = Store(make_engine(default_url(tmp_path)), settings=GENEROUS)  # never migrated: no tables
    assert s.get_collection("A" * 24) is None
    with pytest.raises(StoreError, match="not available right now"):
        s.put_collection(*collection(2), owner=OWNER)
    assert "store: keeping drawings failed" in caplog.text


def test_collection_settings_from_the_environment(monkeypatch):
    assert StoreSettings().collections_per_hour == 20 and StoreSettings().collections_quota_bytes == 100 * 1024**2
    monkeypatch.setenv("DIGIT_LAB_COLLECTIONS_PER_HOUR", "3")
    monkeypatch.setenv("DIGIT_LAB_COLLECTIONS_QUOTA_MB", "0.5")
    got = StoreSettings.from_env()
    assert got.collections_per_hour == 3 and got.collections_quota_bytes == 512 * 1024
    monkeypatch.setenv("DIGIT_LAB_COLLECTIONS_PER_HOUR", "many")
    with pytest.raises(ValueError, match="DIGIT_LAB_COLLECTIONS_PER_HOUR must be a number"):
        StoreSettings.from_env()
