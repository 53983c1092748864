"""Kept drawings in the store (collections: a user's teaching drawings under one private link)."""

import logging

import numpy as np
import pytest
import sqlalchemy as sa
from storehelp import GENEROUS, OTHER, OWNER, collection, snapshot

from webapp.store import (
    COLLECTIONS,
    Store,
    StoreError,
    StoreUnavailable,
    create_engine,
    default_url,
    new_id,
    valid_id,
)
from webapp.training.teaching import MAX_DRAWINGS


def test_collection_round_trip_is_exact(store):
    images, labels = collection(MAX_DRAWINGS, seed=1)
    kept = store.put_collection(images, labels.astype(np.uint8), owner=OWNER)
    assert valid_id(kept) and len(kept) * 6 >= 128  # base64: 6 bits a character
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
    row = lambda: next(r for r in snapshot(store)[1] if r[0] == first)  # noqa: E731
    before = row()
    other = store.put_collection(*collection(1, seed=3), owner=OTHER, replace=first)  # not OTHER's to change
    assert other != first and row() == before
    assert store.get_collection(other)[1].tolist() == [0]
    gone = new_id()  # e.g. removed to make room: a new collection, not an error
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
    ("owner empty", {"owner": ""}, "client token"),
    ("owner sql injection", {"owner": "x'; DROP TABLE collections;--"}, "client token"),
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


@pytest.mark.parametrize("column,value", [
    ("images", b"short"),
    ("labels", b"\x01\x02"),
    ("labels", b"\x01\x0c\x02"),  # a label of 12
    ("count", 0),
    ("count", 10**6),
])
def test_a_damaged_collection_says_so_and_is_logged(store, caplog, column, value):
    good = store.put_collection(*collection(3), owner=OWNER)
    bad = store.put_collection(*collection(3), owner=OWNER)
    with store.engine.begin() as conn:
        conn.execute(sa.update(COLLECTIONS).where(COLLECTIONS.c.id == bad).values({column: value}))
    with caplog.at_level(logging.ERROR, logger="digit_lab"), pytest.raises(StoreError, match="damaged"):
        store.get_collection(bad)
    assert bad in caplog.text and "damaged" in caplog.text
    assert store.get_collection(good) is not None


def test_an_unreachable_store_says_so_and_refuses_to_keep(tmp_path, caplog):
    s = Store(create_engine(default_url(tmp_path)), settings=GENEROUS)  # never migrated: no tables
    with pytest.raises(StoreUnavailable):
        s.get_collection("A" * 24)
    with pytest.raises(StoreUnavailable, match="not available right now"):
        s.put_collection(*collection(2), owner=OWNER)
    assert "store: keeping drawings failed" in caplog.text
