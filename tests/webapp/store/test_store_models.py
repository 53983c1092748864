"""Shared models in the store (webapp.store), on SQLite and on PostgreSQL: round trips, hostile input, the
gallery, damaged rows and an unreachable database."""

import io
import logging
import pickle
import threading
import zipfile

import numpy as np
import pytest
import sqlalchemy as sa
from storehelp import GENEROUS, GOOD, OTHER, OWNER, collection, make_model_bytes, snapshot

from mlp import MLP, load_model, model_to_bytes
from webapp.store import (
    MODELS,
    Store,
    StoreError,
    StoreUnavailable,
    checks,
    create_engine,
    default_url,
    new_id,
    valid_id,
)

# --- models -----------------------------------------------------------------------------------------


def test_round_trip_is_bit_for_bit(store):
    data = make_model_bytes(seed=3, hidden=12, test_accuracy=0.9731, drawn=0.9, seconds=(1.25, 2.0, 3.0))
    model_id = store.put_model(data, name="  Ada's model  ", owner=OWNER, class_code="Room-7")
    model, summary, got = store.get_model(model_id)
    assert got == data and type(got) is bytes
    original = load_model(data)
    for a, b in zip(model.get_weights(), original.get_weights()):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert summary["id"] == model_id and summary["name"] == "Ada's model" and summary["class_code"] == "room-7"
    assert summary["architecture"] == "784-12-10 relu" and summary["layer_sizes"] == [784, 12, 10]
    assert summary["test_accuracy"] == 0.9731 and summary["drawn_accuracy"] == 0.9
    assert summary["training_seconds"] == 6.25 and summary["epochs"] == 3
    assert summary["training"]["optimizer"] == "adam" and summary["published"] is False
    assert summary["created"] and summary["shared"] == "2026-01-01T12:00:00"


def test_a_taught_models_memory_of_drawings_is_kept_when_shared(store):
    """A taught model (mlp.adapt) keeps a memory of its teacher's drawings in its file: a link gives it back."""
    from mlp.memory import build_memory

    rng = np.random.default_rng(0)
    model = MLP([784, 16, 10], seed=1)
    drawings, digits = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), np.arange(6) % 10
    check = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), rng.integers(0, 10, 50)
    model.memory, _ = build_memory(model, drawings, digits, check=check, rng=rng, copies=2)
    model_id = store.put_model(model_to_bytes(model), name="taught", owner=OWNER)
    shared, _, _ = store.get_model(model_id)
    assert shared.memory is not None and shared.memory.drawings == 6 and shared.memory.count == 18
    assert np.array_equal(shared.memory.features, model.memory.features)
    assert np.array_equal(shared.memory.labels, model.memory.labels)


def test_ids_are_unguessable_and_distinct(store):
    assert checks.ID_BYTES * 8 >= 128
    ids = [store.put_model(make_model_bytes(), name=f"m{i}", owner=OWNER) for i in range(25)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) >= 22 and valid_id(i) for i in ids)
    many = {new_id() for _ in range(20000)}
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
    store.put_collection(*collection(2), owner=OWNER)
    before = snapshot(store)
    assert store.get_model(hostile) is None
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


HOSTILE_PUTS = [  # (case, put_model keyword arguments over a good share, the StoreError's message)
    ("name empty", {"name": ""}, "cannot be empty"),
    ("name only spaces", {"name": "   \t "}, "cannot be empty"),
    ("name too long", {"name": "x" * 81}, "at most 80 characters"),
    ("name too long once NFKC-normalised", {"name": "\ufdfa" * 5}, "at most 80 characters"),
    ("name with NUL", {"name": "a\x00b"}, "invisible, control or formatting"),
    ("name with newline", {"name": "line\nbreak"}, "invisible, control or formatting"),
    ("name with bidi override", {"name": "evil\u202etxt.exe"}, "invisible, control or formatting"),
    ("name with a lone surrogate", {"name": "bad \ud800 name"}, "invisible, control or formatting"),
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
    ("owner empty", {"owner": ""}, "client token"),
    ("owner too long", {"owner": "o" * 65}, "client token"),
    ("owner traversal", {"owner": "../../x"}, "client token"),
    ("owner None", {"owner": None}, "client token"),
    ("bytes: not a zip", {"model_bytes": b"hello, not a zip"}, "not a Digit Lab model file: not a model file"),
    ("bytes: empty", {"model_bytes": b""}, "not a Digit Lab model file"),
    ("bytes: a pickle", {"model_bytes": pickle.dumps({"W0": np.zeros(3)})}, "not a Digit Lab model file"),
    ("bytes: a zip, not an npz", {"model_bytes": _zip_of(**{"readme.txt": b"hi"})}, "no metadata record"),
    ("bytes: truncated npz", {"model_bytes": GOOD[: len(GOOD) // 2]}, "not a Digit Lab model file"),
    ("bytes: weights over the limit", {"model_bytes": make_model_bytes(hidden=1024)}, "limit of 2.0 MB per model"),
    ("name passes for the pretrained", {"name": "\u0420retrained"}, "look like the app's own 'Pretrained'"),
    ("name piles up accents", {"name": "a" + "\u0301" * 79}, "stack more than 2 accents"),
    ("name zero-width joiner", {"name": "a\u200db"}, "invisible"),
    ("name Hangul filler", {"name": "a\u3164b"}, "invisible"),
    ("name only punctuation", {"name": "!!!"}, "at least one letter or digit"),
    ("address not an address", {"address": "../../etc"}, "address"),
    ("bytes: NaN weights", {"model_bytes": _model_with_nan()}, "NaN or infinite"),
    ("bytes: a str", {"model_bytes": "PK\x03\x04"}, "bytes of its .npz"),
    ("bytes: None", {"model_bytes": None}, "bytes of its .npz"),
]


@pytest.mark.parametrize("override,message", [c[1:] for c in HOSTILE_PUTS], ids=[c[0] for c in HOSTILE_PUTS])
def test_hostile_shares_are_refused_and_change_nothing(store, override, message):
    store.put_model(GOOD, name="keep", owner=OWNER, published=True, class_code="room-7")
    before = snapshot(store)
    kwargs = {"model_bytes": GOOD, "name": "new", "owner": OTHER, "address": None, "class_code": None, **override}
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
    assert sorted(r["id"] for r in store.items(owner=OWNER)) == sorted([a, c, d, hidden])
    with pytest.raises(StoreError, match="class code"):
        store.leaderboard(None)


def test_listing_never_reads_model_files(store):
    store.put_model(GOOD, name="m", owner=OWNER, published=True)
    row = store.list_published()[0]
    # The bytes held: the file, its summary (with the gallery's thumbnail, a few KB) and its name.
    assert "npz" not in row and len(GOOD) + len("m") < row["size"] < len(GOOD) + 8000
    assert row["thumbnail"].startswith("data:image/png;base64,")


# --- corruption -------------------------------------------------------------------------------------


@pytest.mark.parametrize("column,value", [
    ("npz", b"PK\x03\x04 garbage"),
    ("npz", GOOD[:-100]),
    ("summary", "{not json"),
    ("summary", "[1, 2]"),
])
def test_a_damaged_row_says_so_and_is_logged(store, caplog, column, value):
    good = store.put_model(GOOD, name="good", owner=OWNER, published=True)
    bad = store.put_model(GOOD, name="bad", owner=OWNER, published=True)
    with store.engine.begin() as conn:
        conn.execute(sa.update(MODELS).where(MODELS.c.id == bad).values({column: value}))
    with caplog.at_level(logging.ERROR, logger="digit_lab"), pytest.raises(StoreError, match="damaged") as said:
        store.get_model(bad)
    assert not isinstance(said.value, StoreUnavailable)  # a damaged row, not a store that is down
    assert bad in caplog.text and "damaged" in caplog.text
    assert store.get_model(good) is not None
    listed = [r["id"] for r in store.list_published()]
    assert good in listed and (bad in listed) == (column == "npz")


def test_an_unreachable_store_says_so_and_refuses_writes(tmp_path, caplog):
    s = Store(create_engine(default_url(tmp_path)), settings=GENEROUS)  # never migrated: no tables
    assert s.get_model("A" * 5) is None  # a malformed id needs no database
    for call in (lambda: s.get_model("A" * 24), lambda: s.put_model(GOOD, name="m", owner=OWNER),
                 lambda: s.list_published(), lambda: s.get_collection("A" * 24)):
        with pytest.raises(StoreUnavailable, match="not available right now"):
            call()
    assert "store: listing models failed" in caplog.text  # the detail goes to the log only


def test_a_damaged_database_file_says_unavailable_not_unknown(tmp_path):
    url = default_url(tmp_path)
    s = Store(create_engine(url), settings=GENEROUS)
    s.migrate()
    kept = s.put_model(GOOD, name="m", owner=OWNER)
    s.engine.dispose()
    path = tmp_path / "digit_lab.sqlite"
    path.write_bytes(b"this is not a database" * 1000)
    damaged = Store(create_engine(url), settings=GENEROUS)
    with pytest.raises(StoreUnavailable):
        damaged.get_model(kept)


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


