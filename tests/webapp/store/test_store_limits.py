"""The store's limits: per client, per address, and in all; when it is full, who may lose what.

The rule under test: nothing published, and nothing opened in the last `store_keep_days`, is ever
removed to make room for someone else's share; past that, new shares are refused plainly.
"""

import pytest
import sqlalchemy as sa
from storehelp import GOOD, HERE, OTHER, OWNER, THERE, collection, settings

from webapp.settings import MB
from webapp.store import COLLECTIONS, MODELS, Store, StoreError


def make(engine, clock, **limits):
    s = Store(engine, settings=settings(**limits), clock=clock)
    s.migrate()
    return s


def ids_of(store, table=MODELS):
    with store.engine.connect() as conn:
        return set(conn.scalars(sa.select(table.c.id)))


def row_size(store):
    """What one share of GOOD named "m" counts for."""
    with store.engine.connect() as conn:
        return conn.scalar(sa.select(MODELS.c.size).limit(1))


def test_shares_per_hour_hold_per_client_across_sessions(engine, clock):
    s = make(engine, clock, shares_per_hour=3)
    for _ in range(3):  # a reload or a new tab is the same client: the same token
        s.put_model(GOOD, name="m", owner=OWNER, address=HERE)
        clock.tick(60)
    before = ids_of(s)
    with pytest.raises(StoreError, match="this browser has shared a model 3 times in the last hour"):
        s.put_model(GOOD, name="m", owner=OWNER, address=HERE)
    assert ids_of(s) == before
    s.put_model(GOOD, name="m", owner=OTHER, address=HERE)  # another browser on the same network is not held back
    clock.tick(3600 - 3 * 60 + 1)  # the first share is now over an hour old
    s.put_model(GOOD, name="m", owner=OWNER, address=HERE)
    with pytest.raises(StoreError, match="last hour"):
        s.put_model(GOOD, name="m", owner=OWNER, address=HERE)


def test_shares_per_hour_hold_per_address_for_browsers_without_a_cookie(engine, clock):
    """A script that drops its cookie is a new client every time: the address's allowance stops it."""
    s = make(engine, clock, shares_per_hour=1, address_shares_per_hour=4)
    for i in range(4):
        s.put_model(GOOD, name="m", owner=f"fresh-client-{i}", address=HERE)
    with pytest.raises(StoreError, match="this network has shared a model 4 times in the last hour"):
        s.put_model(GOOD, name="m", owner="fresh-client-5", address=HERE)
    s.put_model(GOOD, name="m", owner="fresh-client-6", address=THERE)  # another network is not held back


def test_bytes_held_per_client_count_models_and_kept_drawings(engine, clock):
    s = make(engine, clock)
    s.put_model(GOOD, name="m", owner="probe")
    one = row_size(s)
    s = make(engine, clock, client_store_mb=(2.5 * one + 3 * 785) / MB)
    s.put_collection(*collection(3), owner=OWNER)  # 3 * 785 bytes
    s.put_model(GOOD, name="m", owner=OWNER)
    s.put_model(GOOD, name="m", owner=OWNER)
    before = ids_of(s)
    with pytest.raises(StoreError, match="what this browser keeps on the server would come to .* one browser may keep"):
        s.put_model(GOOD, name="m", owner=OWNER)
    with pytest.raises(StoreError, match="one browser may keep"):
        s.put_collection(*collection(200), owner=OWNER)
    assert ids_of(s) == before
    s.put_model(GOOD, name="m", owner=OTHER)  # someone else's share is theirs to count


def test_bytes_held_per_address(engine, clock):
    s = make(engine, clock)
    s.put_model(GOOD, name="m", owner="probe")
    one = row_size(s)
    s = make(engine, clock, address_store_mb=2.5 * one / MB)
    s.put_model(GOOD, name="m", owner="a", address=HERE)
    s.put_model(GOOD, name="m", owner="b", address=HERE)
    with pytest.raises(StoreError, match="what this network keeps on the server .* one network may keep"):
        s.put_model(GOOD, name="m", owner="c", address=HERE)
    s.put_model(GOOD, name="m", owner="c", address=THERE)


def test_a_full_store_refuses_new_shares_and_removes_nothing_in_use(engine, clock):
    """One visitor fills the store: the next share is refused; nobody's model, link or class board is touched."""
    s = make(engine, clock)
    s.put_model(GOOD, name="m", owner="probe")
    one = row_size(s)
    s.remove(list(ids_of(s)))
    s = make(engine, clock, store_quota_mb=3.5 * one / MB, store_keep_days=30)
    hers = s.put_model(GOOD, name="Hers", owner=OTHER, published=True, class_code="room-1")
    link = s.put_model(GOOD, name="by link", owner=OTHER)
    clock.tick(60)
    mine = s.put_model(GOOD, name="m", owner=OWNER)
    before = ids_of(s)
    clock.tick(29 * 24 * 3600)  # a month, nearly: nothing is stale yet
    with pytest.raises(StoreError, match="store is full: it keeps everything published and everything opened in the "
                                         "last 30 days"):
        s.put_model(GOOD, name="m", owner=OWNER)
    assert ids_of(s) == before
    assert [r["id"] for r in s.leaderboard("room-1")] == [hers]
    assert s.get_model(link) is not None and s.get_model(mine) is not None


def test_only_stale_unpublished_models_make_room(engine, clock):
    s = make(engine, clock)
    s.put_model(GOOD, name="m", owner="probe")
    one = row_size(s)
    s.remove(list(ids_of(s)))
    s = make(engine, clock, store_quota_mb=3.5 * one / MB, store_keep_days=30)
    published = s.put_model(GOOD, name="published", owner=OTHER, published=True)
    opened = s.put_model(GOOD, name="opened", owner=OTHER)
    stale = s.put_model(GOOD, name="stale", owner=OTHER)
    clock.tick(31 * 24 * 3600)
    assert s.get_model(opened) is not None  # opened today: not stale any more
    clock.tick(60)
    new = s.put_model(GOOD, name="new", owner=OWNER)
    assert ids_of(s) == {published, opened, new} and stale not in ids_of(s)  # the stale link went, not the published
    with pytest.raises(StoreError, match="store is full"):
        s.put_model(GOOD, name="again", owner=OWNER)


def test_kept_drawings_follow_the_same_rule(engine, clock):
    size = 10 * 785
    s = make(engine, clock, collections_quota_mb=3.5 * size / MB, store_keep_days=30)
    opened = s.put_collection(*collection(10), owner=OTHER)
    stale = s.put_collection(*collection(10), owner=OTHER)
    third = s.put_collection(*collection(10), owner=OTHER)
    clock.tick(10 * 24 * 3600)
    with pytest.raises(StoreError, match="store is full"):
        s.put_collection(*collection(10), owner=OWNER)
    clock.tick(25 * 24 * 3600)
    assert s.get_collection(opened) is not None and s.get_collection(third) is not None
    new = s.put_collection(*collection(10), owner=OWNER)
    assert ids_of(s, COLLECTIONS) == {opened, third, new} and stale not in ids_of(s, COLLECTIONS)
    assert s.put_collection(*collection(10), owner=OWNER, replace=new) == new  # replacing never removes itself


def test_collections_per_hour_per_client_and_per_address(engine, clock):
    s = make(engine, clock, collections_per_hour=2, address_collections_per_hour=3)
    first = s.put_collection(*collection(1), owner=OWNER, address=HERE)
    s.put_collection(*collection(2), owner=OWNER, address=HERE)
    with pytest.raises(StoreError, match="this browser has kept a set of drawings 2 times in the last hour"):
        s.put_collection(*collection(3), owner=OWNER, address=HERE)
    assert s.put_collection(*collection(4), owner=OWNER, address=HERE, replace=first) == first  # no new set
    s.put_collection(*collection(1), owner=OTHER, address=HERE)
    with pytest.raises(StoreError, match="this network has kept a set of drawings 3 times"):
        s.put_collection(*collection(1), owner="third", address=HERE)
    clock.tick(3601)
    s.put_collection(*collection(1), owner=OWNER, address=HERE)


def test_the_owners_own_opens_do_not_keep_a_model_from_going_stale(engine, clock, caplog):
    s = make(engine, clock)
    s.put_model(GOOD, name="m", owner="probe")
    one = row_size(s)
    s.remove(list(ids_of(s)))
    s = make(engine, clock, store_quota_mb=2.5 * one / MB, store_keep_days=30)
    kept_alive = s.put_model(GOOD, name="m", owner=OTHER)
    opened = s.put_model(GOOD, name="m", owner=OTHER)
    clock.tick(31 * 24 * 3600)
    assert s.get_model(kept_alive, opener=OTHER) is not None  # its owner, opening it again and again ...
    assert s.get_model(opened, opener=OWNER) is not None  # ... and somebody else
    with caplog.at_level("WARNING", logger="digit_lab"):
        new = s.put_model(GOOD, name="m", owner=OWNER)
    assert ids_of(s) == {opened, new}  # only what others opened counts as in use
    with caplog.at_level("WARNING", logger="digit_lab"), pytest.raises(StoreError, match="store is full"):
        s.put_model(GOOD, name="m", owner=OWNER)
    assert [r.message for r in caplog.records if "is full" in r.message]  # the operator reads it in the log


def test_addresses_are_forgotten_after_the_keeping_time(engine, clock):
    s = make(engine, clock, store_keep_days=30)
    old = s.put_model(GOOD, name="m", owner=OTHER, address=THERE)
    drawings = s.put_collection(*collection(3), owner=OTHER, address=THERE)
    clock.tick(31 * 24 * 3600)
    recent = s.put_model(GOOD, name="m", owner=OWNER, address=HERE)  # any share tidies up first
    with s.engine.connect() as conn:
        models = dict(conn.execute(sa.select(MODELS.c.id, MODELS.c.address)).all())
        collections = dict(conn.execute(sa.select(COLLECTIONS.c.id, COLLECTIONS.c.address)).all())
    assert models == {old: None, recent: HERE} and collections == {drawings: None}
