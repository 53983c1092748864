"""The operators' command, python -m webapp.store: list, hide, show and remove what visitors shared."""

import io
import subprocess
import sys

import pytest
from storehelp import GOOD, HERE, OTHER, OWNER, THERE, collection

from webapp import settings
from webapp.store import Store, create_engine
from webapp.store.__main__ import main, printable


@pytest.fixture
def shared(db_url, monkeypatch):
    """A store at DIGIT_LAB_STORE_URL holding two browsers' models and drawings."""
    monkeypatch.setenv("DIGIT_LAB_STORE_URL", db_url)
    settings.current.cache_clear()
    s = Store(create_engine(db_url))
    s.migrate()
    ids = {
        "hers": s.put_model(GOOD, name="Hers", owner=OTHER, address=THERE, published=True, class_code="room-1"),
        "mine": s.put_model(GOOD, name="Mine", owner=OWNER, address=HERE),
        "drawings": s.put_collection(*collection(3), owner=OWNER, address=HERE),
    }
    yield s, ids
    s.engine.dispose()
    settings.current.cache_clear()


def run(*argv):
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_list_and_usage(shared):
    store, ids = shared
    code, text = run("list")
    assert code == 0 and all(i in text for i in ids.values())
    assert "published class room-1  Hers" in text and "link only  Mine" in text and "drawings  3" in text
    assert run("list", "--published")[1].count("\n") == 1
    assert ids["mine"] in run("list", "--owner", OWNER)[1] and ids["hers"] not in run("list", "--owner", OWNER)[1]
    assert ids["hers"] in run("list", "--address", THERE)[1]
    code, text = run("usage")
    assert code == 0 and "models: 2 " in text and "1 published" in text and "kept drawings: 1 sets" in text


def test_hide_show_and_remove(shared):
    store, ids = shared
    assert run("hide", ids["hers"]) == (0, "1 changed\n")
    assert store.leaderboard("room-1") == []
    assert store.get_model(ids["hers"]) is not None  # hidden, not gone: the link still works
    assert run("show", ids["hers"])[0] == 0 and [r["id"] for r in store.leaderboard("room-1")] == [ids["hers"]]
    assert run("hide", "A" * 24)[0] == 1
    assert run("remove", ids["hers"]) == (0, "1 removed\n")
    assert store.get_model(ids["hers"]) is None


def test_remove_everything_of_one_client_needs_yes(shared):
    store, ids = shared
    assert run("remove", "--owner", OWNER)[0] == 2
    assert store.get_model(ids["mine"]) is not None
    assert run("remove", "--owner", OWNER, "--yes") == (0, "2 removed\n")
    assert store.get_model(ids["mine"]) is None and store.get_collection(ids["drawings"]) is None
    assert store.get_model(ids["hers"]) is not None
    assert run("remove", "--address", THERE, "--yes") == (0, "1 removed\n")


def test_listing_shows_whole_tokens_and_an_address_may_be_typed_as_the_visitor_had_it(shared, monkeypatch):
    store, ids = shared
    v6 = store.put_model(GOOD, name="From a phone", owner=OTHER, address="2001:db8:1:aa00::/56")
    assert f"owner {OWNER}  " in run("list", "--owner", OWNER)[1]  # whole: it can be pasted into --owner
    listed = run("list", "--address", "2001:db8:1:aa42::17")[1]  # one address of the phone's network
    assert v6 in listed and ids["hers"] not in listed
    assert run("list", "--address", "not-an-address")[0] == 2


def test_removing_nothing_says_so(shared):
    code, text = run("remove", "A" * 43)
    assert (code, text) == (1, "0 removed\n")


def test_names_are_printed_with_anything_unprintable_escaped():
    assert printable("evil\u202etxt\x1b[31m") == "evil\\u202etxt\\x1b[31m"


def test_the_command_runs_from_a_shell(shared):
    done = subprocess.run([sys.executable, "-m", "webapp.store", "usage"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and "models: 2 " in done.stdout, done.stderr
