"""Who a visitor is and what they may hold: webapp.clients, session.budget, session.reaper and webapp.text. Pure."""

import gc
import ipaddress
import re

import numpy as np
import pytest

from harness.apptest import plain
from mlp import MLP
from webapp.clients import COOKIE, Client, address_key, client_address, identify, valid_token
from webapp.session.budget import Budget, BudgetError, array_bytes
from webapp.session.once import Once
from webapp.session.reaper import Reaper
from webapp.text import TextError, clean_name, html, literal, passes_for

PROXY = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))


# -- clients -----------------------------------------------------------------------------------------


def test_a_browser_is_known_by_its_cookie_and_a_new_one_gets_a_token():
    kept = identify({COOKIE: "A" * 32}, [], "203.0.113.9", ())
    assert kept == Client("A" * 32, "203.0.113.9", False)
    fresh = identify({}, [], "203.0.113.9", ())
    assert fresh.new and valid_token(fresh.token) and len(fresh.token) == 32
    assert identify({}, [], None, ()).token != fresh.token  # unguessable, never shared


@pytest.mark.parametrize("cookie", ["", "short", "x" * 65, "a b" * 10, "../../etc/passwd" * 2, "é" * 30])
def test_a_cookie_that_is_no_token_of_ours_makes_a_new_client(cookie):
    c = identify({COOKIE: cookie}, [], None, ())
    assert c.new and c.token != cookie and valid_token(c.token)


@pytest.mark.parametrize("peer,forwarded,trusted,expected", [
    (None, [], (), "127.0.0.1"),  # Streamlit reports loopback as None
    ("203.0.113.9", ["198.51.100.1"], (), "203.0.113.9"),  # an untrusted peer's header is ignored
    (None, ["198.51.100.1"], PROXY, "198.51.100.1"),  # the local proxy says who it is
    (None, ["6.6.6.6, 198.51.100.1"], PROXY, "198.51.100.1"),  # the visitor forged the left one
    (None, ["198.51.100.1", "10.1.2.3"], PROXY, "198.51.100.1"),  # through two of our proxies
    (None, ["10.1.2.3, 10.9.9.9"], PROXY, "10.1.2.3"),  # all trusted: the furthest one known
    (None, ["garbage, 198.51.100.1"], PROXY, "198.51.100.1"),
    (None, ["198.51.100.1, garbage"], PROXY, "127.0.0.1"),  # a header we cannot read is not believed
    (None, [], PROXY, "127.0.0.1"),
    ("not an address", [], (), "127.0.0.1"),
    (None, ["198.51.100.1:54321"], PROXY, "198.51.100.1"),  # proxies that add the port
    (None, ["[2001:db8::7]:443"], PROXY, "2001:db8::7"),
    (None, ["[2001:db8::7]"], PROXY, "2001:db8::7"),
    (None, ["198.51.100.1, unknown"], PROXY, "127.0.0.1"),  # RFC 7239's "unknown": not believed, nor what is left
])
def test_the_address_comes_from_a_trusted_proxys_header_only(peer, forwarded, trusted, expected):
    assert client_address(peer, forwarded, trusted) == expected


def test_addresses_count_ipv6_by_its_network_and_mapped_ipv4_as_ipv4():
    assert address_key("2001:db8:1:2:3:4:5:6") == address_key("2001:db8:1:ff:ffff::1") == "2001:db8:1::/56"
    assert address_key("2001:db8:1:2:3:4:5:6", 64) == "2001:db8:1:2::/64" != address_key("2001:db8:1:3::1", 64)
    assert address_key("::ffff:203.0.113.9") == "203.0.113.9"
    assert address_key("203.0.113.9") == "203.0.113.9"
    assert address_key("2001:db8:1:2::/64") == "2001:db8:1:2::/64"  # a key kept under a narrower size stays
    assert address_key("2001:db8:1::/56") == "2001:db8:1::/56" and address_key("203.0.113.9/32") == "203.0.113.9"
    for wider in ("203.0.113.0/24", "2001:db8::/48"):
        with pytest.raises(ValueError, match="wider than an address key"):
            address_key(wider)
    assert identify({}, [], "2001:db8:1:2::9", (), ipv6_prefix=48).address == "2001:db8:1::/48"


def test_a_forwarded_header_from_a_peer_not_trusted_is_logged_once(caplog):
    warned = Once(most=2)  # the server's is resources.log_once(clients.UNTRUSTED_FORWARD)
    for peer in ("203.0.113.9", "203.0.113.9", "192.0.2.4", "203.0.113.9", "198.51.100.7"):
        assert client_address(peer, ["198.51.100.1"], (), warned) == peer
    assert client_address("198.51.100.8", ["198.51.100.1"], ()) == "198.51.100.8"  # no Once: no log
    logged = [r.message for r in caplog.records if "X-Forwarded-For" in r.message]
    assert len(logged) == 2 and "203.0.113.9" in logged[0] and "DIGIT_LAB_TRUSTED_PROXIES" in logged[0]
    assert "192.0.2.4" in logged[1]  # a visitor sending the header does not use up the operator's warning
    # ... nor grows what the server keeps: the third peer is past `most`


# -- the memory budget ---------------------------------------------------------------------------------


class Holder:
    def __init__(self, nbytes):
        self.array = np.zeros(nbytes, np.uint8)

    def memory_bytes(self):
        return self.array.nbytes


MB = 1024 * 1024
ME, YOU, ELSEWHERE = Client("me" * 11, "203.0.113.1", False), Client("you" * 8, "203.0.113.1", False), \
    Client("far" * 8, "198.51.100.1", False)


def test_the_budget_admits_within_every_share_and_names_the_one_passed():
    budget = Budget(total=9.5 * MB, per_client=4 * MB, per_address=6.75 * MB)
    mine = [budget.track(Holder(3 * MB), ME)]
    budget.admit(ME, 1 * MB)
    with pytest.raises(BudgetError, match="your models already take 3 of the 4 MB one browser may use"):
        budget.admit(ME, 2 * MB)
    with pytest.raises(BudgetError, match="more than the 4 MB one browser may use"):
        budget.admit(YOU, 5 * MB)
    yours = [budget.track(Holder(3 * MB), YOU)]
    with pytest.raises(BudgetError, match="models of your network already take 6 of the 7 MB"):
        budget.admit(YOU, 0.9 * MB)
    theirs = [budget.track(Holder(3 * MB), ELSEWHERE)]
    with pytest.raises(BudgetError, match="the server is holding as many models as its memory allows"):
        budget.admit(ELSEWHERE, 0.95 * MB)
    assert budget.usage(ME) == (9 * MB, 3 * MB, 6 * MB, 3)
    assert mine and yours and theirs


def test_models_leave_the_budget_with_whoever_held_them():
    budget = Budget(total=10 * MB, per_client=10 * MB, per_address=10 * MB)
    held = budget.track(Holder(6 * MB), ME)
    with pytest.raises(BudgetError):
        budget.admit(YOU, 5 * MB)
    del held
    budget.admit(YOU, 5 * MB)
    assert budget.usage().models == 0


def test_garbage_in_a_cycle_is_collected_before_a_refusal():
    budget = Budget(total=10 * MB, per_client=10 * MB, per_address=10 * MB)
    gc.disable()
    try:
        held = budget.track(Holder(8 * MB), ME)
        held.me = held  # a cycle: only the collector frees it
        del held
        budget.admit(YOU, 5 * MB)  # collected, then admitted
    finally:
        gc.enable()


def test_array_bytes_counts_what_results_hold():
    a = np.zeros(100, np.float32)
    assert array_bytes({"x": a, "y": (a, a), "z": "text"}) == 1200 and array_bytes(None) == 0
    evaluation = MLP([784, 8, 10], seed=0).evaluate(np.zeros((500, 784), np.float32), np.zeros(500, int))
    arrays = (evaluation.probabilities, evaluation.per_class_accuracy, evaluation.confusion_matrix)
    assert array_bytes({"test": evaluation}) == sum(a.nbytes for a in arrays) >= 500 * 10 * 4


# -- closing sessions whose browser has gone -----------------------------------------------------------


class FakeFiles:
    def __init__(self):
        self.removed = []

    def remove_session_files(self, session_id):
        self.removed.append(session_id)


class FakeRuntime:
    def __init__(self):
        self.active, self.closed, self.uploaded_file_mgr = set(), [], FakeFiles()

    def is_active_session(self, session_id):
        return session_id in self.active

    def clear_user_info_for_session(self, session_id):
        self.closed.append(session_id)


def test_the_reaper_closes_a_session_gone_for_its_grace_and_no_other(monkeypatch):
    monkeypatch.setattr("webapp.session.reaper.time.sleep", lambda s: None)
    runtime = FakeRuntime()
    reaper = Reaper(runtime, grace=60)
    runtime.active = {"a", "b"}
    for sid in ("a", "b"):
        reaper.seen(sid)
    assert reaper.sweep(now=0) == 0
    runtime.active = {"a"}  # b's tab closed
    assert reaper.sweep(now=10) == 0  # b is given its grace: a network blip is not a departure
    runtime.active = {"a", "b"}
    assert reaper.sweep(now=40) == 0  # b came back: the clock starts again when it leaves
    runtime.active = {"a"}
    assert reaper.sweep(now=50) == 0 and reaper.sweep(now=100) == 0
    assert reaper.sweep(now=111) == 1
    assert runtime.closed == ["b"] and runtime.uploaded_file_mgr.removed == ["b"]
    assert reaper.watched() == 1 and reaper.sweep(now=1000) == 0  # a is still here


# -- a visitor's text --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "![p](http://127.0.0.1:9/x.png)", "**:red[Session expired](http://x)**", "<img src=x>", "www.evil.org",
    "me@evil.org", ":smile: :material/home:", "$x^2$", "# heading", "a\\*b", "`code`", "~~gone~~", "| a | b |",
])
def test_literal_escapes_every_markdown_construct(name):
    escaped = literal(name).replace("\u2060", "")  # the joiners that break short codes and bare links
    assert re.fullmatch(r"(?:\\[!-/:-@\[-`{-~]|[^!-/:-@\[-`{-~])*", escaped), escaped  # every one escaped
    assert plain(literal(name)) == name  # and nothing else changed


def test_literal_makes_one_line_and_html_escapes():
    assert literal("a\n\n b\tc") == "a b c"
    assert html('<b a="1">&</b>') == "&lt;b a=&quot;1&quot;&gt;&amp;&lt;/b&gt;"


@pytest.mark.parametrize("name,message", [
    ("\u0420retrained", "look like the app's own 'Pretrained'"),  # Cyrillic Р
    ("PRETRAINED", "look like"),
    ("Pre-trained!", "look like"),
    ("\u24c5retrained", "look like"),  # circled P: NFKC makes it a P
    ("Ρгеtгаіnеd", "look like"),  # Greek and Cyrillic look-alikes throughout
    ("x\u0301\u0302\u0303", "stack more than 2 accents"),  # no letter has these three composed
    ("x" + "\u0301" * 79, "stack more than 2 accents"),
    ("a\u200bb", "invisible"), ("a\u2060b", "invisible"), ("a\u202eb", "invisible"), ("a\ufe0fb", "invisible"),
    ("\u3164", "invisible"), ("a\x00b", "invisible"), ("a\u2028b", "invisible"),
    ("   ", "cannot be empty"), ("---", "at least one letter or digit"),
    ("n" * 81, "at most 80 characters"),
])
def test_names_that_mislead_are_refused(name, message):
    with pytest.raises(TextError, match=message):
        clean_name(name)


@pytest.mark.parametrize("name,kept", [
    ("  My model 1  ", "My model 1"),
    ("Pretrained + yours", "Pretrained + yours"),  # a taught model says what it is
    ("Ｍｙ ｍｏｄｅｌ", "My model"),  # NFKC: full-width letters as letters
    ("Tiếng Việt", "Tiếng Việt"),  # two accents on one letter are writing, not a pile
    ("模型 🙂", "模型 🙂"),
    ("![p](http://x/y.png)", "![p](http://x/y.png)"),  # allowed: shown as text wherever it appears
])
def test_ordinary_names_are_kept(name, kept):
    assert clean_name(name) == kept and passes_for(kept) is None


class Run:
    def __init__(self, busy=True):
        self._busy = busy

    def busy(self):
        return self._busy

    def memory_bytes(self):
        return 0


def test_runs_under_way_are_limited_per_browser_and_per_network():
    budget = Budget(total=10 * MB, per_client=10 * MB, per_address=10 * MB, runs=(2, 3))
    mine = [budget.track(Run(), ME), budget.track(Run(busy=False), ME)]  # one finished: it does not count
    budget.admit_run(ME)
    mine.append(budget.track(Run(), ME))
    with pytest.raises(BudgetError, match="you already have 2 runs training or waiting for a slot"):
        budget.admit_run(ME)
    yours = budget.track(Run(), YOU)
    with pytest.raises(BudgetError, match="your network already has 3 runs training or waiting"):
        budget.admit_run(YOU)
    budget.admit_run(ELSEWHERE)
    mine[0]._busy = False  # a run ends: room again
    budget.admit_run(ME)
    assert yours


# -- files Streamlit holds until a page reads them ----------------------------------------------------


def test_uploads_held_are_one_per_session_bounded_in_all_and_per_address_and_in_time():
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.uploaded_file_manager import UploadedFileRec

    from webapp.session.uploads import UploadRefused, cap, forget

    now = [0.0]
    where = {"a1": "203.0.113.1", "a2": "203.0.113.1", "a3": "203.0.113.1", "b": "198.51.100.1"}
    manager = cap(MemoryUploadedFileManager("/upload"), total_bytes=100, address_bytes=60, address_of=where.get,
                  unread_seconds=120, clock=lambda: now[0])
    rec = lambda fid, n: UploadedFileRec(fid, f"{fid}.npz", "application/octet-stream", b"x" * n)  # noqa: E731
    held = lambda: {fid for files in manager.file_storage.values() for fid in files}  # noqa: E731
    manager.add_file("a1", rec("f1", 30))
    manager.add_file("a1", rec("f2", 30))  # the session's newer file replaces its older one
    assert held() == {"f2"}
    manager.add_file("a2", rec("f3", 30))  # 60 from one address: its share
    with pytest.raises(UploadRefused, match="from 203.0.113.1 take 60 bytes; one network may have 60 at once"):
        manager.add_file("a3", rec("f4", 1))
    manager.add_file("b", rec("f5", 40))  # another network still may: 100 in all
    with pytest.raises(UploadRefused, match="uploads in flight take 60 bytes; this server takes 100 at once"):
        manager.add_file("b", rec("f6", 41))  # its own older file went first, and 60 + 41 is still too much
    forget(manager, "a1", "f2")  # read by its page
    now[0] = 121.0  # f3 was never read: gone at the next upload
    manager.add_file("a3", rec("f7", 50))
    assert held() == {"f7"}
