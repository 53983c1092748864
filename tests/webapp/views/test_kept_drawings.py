"""A user's teaching drawings kept by private link (`mine=<id>`), and a taught model shared like a trained one.

Drawings.merge on its own; then the Draw page through AppTest over a fresh SQLite store per test
(DIGIT_LAB_STORE_URL in a tmp folder): Keep my drawings, the link opened in a fresh session, a
session without the link, saving again, the cap, hostile links, refusals. Sessions opened one after
another in a test share that store, as two browsers share a server.
"""

import numpy as np
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from harness import canvas_data_url, canvas_value, draw_stroke
from harness.apptest import APP, TIMEOUT, clear_caches, plain
from mlp import MLP
from webapp.session.registry import ModelEntry, ModelKind
from webapp.store import COLLECTIONS, MODELS, Store, create_engine, valid_id
from webapp.training.teaching import Drawings, Merged
from webapp.views.teach import PRIVATE, merged_message

BROWSER_URL = "http://localhost:8501/"
UNAVAILABLE = "The drawings this link names are not available here"


@pytest.fixture(autouse=True)
def store_url(empty_store):
    """Every test: an empty store of its own and empty caches (tests/conftest.py; the run's limits are the defaults)."""
    return empty_store


# -- Drawings.merge (no Streamlit) -------------------------------------------------------------------


def blobs(n, seed=0):
    """n distinct non-blank uint8 28x28 drawings."""
    x = np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    x[:, 0, 0] = 255
    return x


def test_merge_adds_after_the_kept_ones_and_keeps_their_labels():
    x = blobs(4)
    kept = Drawings()
    kept.keep(x[0], 3)
    merged = kept.merge(x[[0, 1, 2]], np.array([5, 1, 2]))
    assert merged == Merged(added=2, already=1, left_out=0, refused=0)
    images, labels = kept.arrays()
    assert labels.tolist() == [3, 1, 2]  # the session's own label wins for a drawing it already has
    assert np.array_equal(images, x[[0, 1, 2]])
    assert len({d.id for d in kept}) == 3  # ids stay unique, so delete buttons stay distinct


def test_merge_stops_at_the_cap_and_skips_what_cannot_be_kept():
    x = blobs(5, seed=1)
    x[1] = 0  # blank
    kept = Drawings(cap=2)
    merged = kept.merge(list(x) + [np.zeros((3, 3), np.uint8)], [0, 1, 2, 12, 4, 5])
    assert merged == Merged(added=2, already=0, left_out=1, refused=3)  # blank, label 12, wrong shape
    assert kept.arrays()[1].tolist() == [0, 2]
    with pytest.raises(ValueError):  # one label per drawing, or nothing is merged
        Drawings().merge(x, [1, 2])


@pytest.mark.parametrize("merged,words", [
    (Merged(12, 0, 0, 0), "Loaded 12 drawings from the link into Your drawings."),
    (Merged(1, 1, 0, 0), "Loaded 1 drawing from the link into Your drawings. 1 drawing was there already."),
    (Merged(3, 2, 4, 1), "Loaded 3 drawings from the link into Your drawings. 2 drawings were there already. "
                         "4 drawings did not fit: 200 is the most one session keeps, so delete some and open the "
                         "link again to load the rest. Skipped 1 drawing that could not be read."),
])
def test_merged_message(merged, words):
    assert merged_message(merged) == words


# -- the Draw page -----------------------------------------------------------------------------------


def open_at(**query):
    """A new browser session opening Draw (with a query, as a typed address does)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.context = {"url": BROWSER_URL}
    for k, v in query.items():
        at.query_params[k] = v
    return ok(at.run())


def ok(at):
    assert not at.exception, at.exception
    return at


def correct(at, digit28, label):
    """Draw an MNIST digit on the canvas and click 'Wrong? It's a <label>'."""
    at.session_state["canvas"] = canvas_value(canvas_data_url(digit28))
    ok(at.run())
    return ok(at.pills(key="correction").set_value(label).run())


def open_drawings(at):
    at.session_state["drawings_open"] = True
    at.session_state["_kept_drawings_open"] = True
    return ok(at.run())


def keep(at):
    return ok(at.button(key="keep_drawings").click().run())


def kept_arrays(at):
    return at.session_state["drawings"].arrays() if "drawings" in at.session_state else (np.zeros((0, 28, 28)), [])


def link_shown(at):
    links = [c.value for c in at.code if "mine=" in c.value]
    assert len(links) == 1, links
    return links[0]


def texts(elements):
    return [e.value for e in elements]


def collections(url):
    with create_engine(url).connect() as conn:
        return conn.execute(sa.select(COLLECTIONS.c.id, COLLECTIONS.c.count, COLLECTIONS.c.owner)).all()


@pytest.fixture
def kept_session(mnist):
    """A session that corrected three drawings and kept them: (that session, the link's id)."""
    at = open_at()
    for index, label in ((0, 7), (1, 2), (2, 1)):
        correct(at, mnist.x_test[index], label)
    keep(open_drawings(at))
    mine = at.query_params.get("mine")
    assert valid_id(mine), mine
    assert link_shown(at) == f"http://localhost:8501/?mine={mine}"
    assert any(PRIVATE in c for c in texts(at.caption)), texts(at.caption)
    return at, mine


def test_a_kept_link_loads_the_drawings_in_a_fresh_session_and_no_one_else_sees_them(mnist, kept_session):
    first, mine = kept_session
    images, labels = kept_arrays(first)
    assert labels.tolist() == [7, 2, 1]

    other = open_at(mine=mine)  # another browser, with the link
    got_images, got_labels = kept_arrays(other)
    assert got_labels.tolist() == [7, 2, 1] and np.array_equal(got_images, images)
    assert texts(other.success) == ["Loaded 3 drawings from the link into Your drawings."]
    box = next(e for e in other.expander if e.label.startswith("Your drawings"))
    assert box.label == "Your drawings (3)" and len(box.get("image")) == 3  # opened to show them
    assert other.query_params.get("mine") == mine
    ok(other.run())
    assert len(kept_arrays(other)[1]) == 3 and not other.success  # loaded once, not again on every run

    stranger = open_at()  # a second session without the link
    assert len(kept_arrays(stranger)[1]) == 0
    assert not [e for e in stranger.expander if e.label.startswith("Your drawings")]
    assert "mine" not in stranger.query_params


def test_keeping_again_updates_the_same_link_and_says_when_it_is_out_of_date(mnist, store_url, kept_session):
    at, mine = kept_session
    assert not any("changed your drawings since" in c for c in texts(at.caption))
    correct(at, mnist.x_test[3], 0)
    assert any("changed your drawings since" in c for c in texts(at.caption)), texts(at.caption)
    keep(at)
    assert at.query_params.get("mine") == mine and link_shown(at).endswith(mine)
    assert not any("changed your drawings since" in c for c in texts(at.caption))
    assert [(r.id, r.count) for r in collections(store_url)] == [(mine, 4)]
    assert kept_arrays(open_at(mine=mine))[1].tolist() == [7, 2, 1, 0]


def test_a_link_opened_by_someone_else_keeps_their_own_copy(mnist, store_url, kept_session):
    """Only the session that kept drawings updates their link: a visitor's Keep makes a new one."""
    _, mine = kept_session
    visitor = open_at(mine=mine)
    correct(visitor, mnist.x_test[4], 4)
    keep(open_drawings(visitor))
    theirs = visitor.query_params.get("mine")
    assert valid_id(theirs) and theirs != mine
    counts = {r.id: r.count for r in collections(store_url)}
    assert counts == {mine: 3, theirs: 4}


def test_a_link_merges_with_the_sessions_drawings_up_to_the_cap(mnist, kept_session):
    _, mine = kept_session
    at = open_at()
    at.session_state["drawings"] = Drawings(cap=2)
    correct(at, mnist.x_test[1], 5)  # the link's second drawing, kept here as a 5
    at.query_params["mine"] = mine
    ok(at.run())
    assert kept_arrays(at)[1].tolist() == [5, 7]  # the session's label stays; one more fits
    assert texts(at.success) == ["Loaded 1 drawing from the link into Your drawings. 1 drawing was there already. "
                                 "1 drawing did not fit: 200 is the most one session keeps, so delete some and "
                                 "open the link again to load the rest."]


HOSTILE_LINKS = [
    ("well formed, unknown", "A" * 24),
    ("sql injection", "'; DROP TABLE collections;--"),
    ("too long", "A" * 10_000),
    ("path traversal", "../../../etc/passwd"),
    ("unicode", "ｍｉｎｅｍｉｎｅｍｉｎｅｍｉｎｅｍｉｎｅ"),
    ("a model's id", None),  # filled in below: an id that exists, but names a model
]


@pytest.mark.parametrize("mine", [c[1] for c in HOSTILE_LINKS], ids=[c[0] for c in HOSTILE_LINKS])
def test_an_unknown_or_hostile_link_says_so_and_changes_nothing(mnist, store_url, kept_session, mine):
    first, kept_id = kept_session
    if mine is None:
        model_bytes = ModelEntry("m", ModelKind.UPLOADED, model=MLP([784, 8, 10], seed=0)).file_bytes()
        mine = Store(create_engine(store_url)).put_model(model_bytes, name="m", owner="someone")
    before = collections(store_url)
    at = open_at()
    correct(at, mnist.x_test[5], 1)
    at.query_params["mine"] = mine
    ok(at.run())
    assert [w for w in texts(at.warning) if UNAVAILABLE in w], texts(at.warning)
    assert kept_arrays(at)[1].tolist() == [1]  # the session's drawings, unchanged
    assert "mine" not in at.query_params
    assert collections(store_url) == before


def test_keep_is_refused_plainly_over_the_hourly_allowance(mnist, store_url, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_COLLECTIONS_PER_HOUR", "0")
    clear_caches()
    at = open_at()
    correct(at, mnist.x_test[0], 7)
    keep(open_drawings(at))
    assert [plain(e) for e in texts(at.error)] == [
        "Your drawings were not kept: this browser has kept a set of drawings 0 times in the last hour, the most "
        "allowed; try again later"]
    assert "mine" not in at.query_params and collections(store_url) == []


def test_without_a_store_keep_says_it_is_unavailable_and_links_change_nothing(mnist, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_STORE_URL", "sqlite:////proc/digit-lab-no-such-folder/store.sqlite")
    clear_caches()
    at = open_at(mine="A" * 24)  # the store cannot say whether they exist: it says it is unavailable
    assert [w for w in texts(at.warning) if "Keeping drawings is unavailable on this server right now" in w], \
        texts(at.warning)
    correct(at, mnist.x_test[0], 7)
    keep(open_drawings(at))
    assert texts(at.error) == ["Keeping drawings is not available on this server right now."]
    assert kept_arrays(at)[1].tolist() == [7]


# -- a taught model is shared like a trained one -------------------------------------------------------


def test_a_taught_model_offers_share_model_and_its_link_opens_it(mnist, store_url):
    at = open_at()
    model = MLP([784, 16, 10], seed=3)
    model.meta.update(dataset="mnist", adapted={"n_drawings": 20, "per_digit": [2] * 10})
    at.session_state["models"]["Pretrained + yours"] = ModelEntry("Pretrained + yours", ModelKind.TAUGHT, model=model)
    at.session_state["selected_model"] = "Pretrained + yours"
    ok(at.run())
    ok(at.button(key="share_model_draw").click().run())
    model_id = at.query_params.get("model")
    assert valid_id(model_id), model_id
    assert any("Anyone with this link gets **Pretrained + yours**" in plain(s) for s in texts(at.success))
    with create_engine(store_url).connect() as conn:
        assert conn.scalar(sa.select(MODELS.c.name).where(MODELS.c.id == model_id)) == "Pretrained + yours"

    other = open_at(model=model_id)
    assert other.selectbox(key="draw_model").value == "Pretrained + yours (shared)"
    shared = other.session_state["models"]["Pretrained + yours (shared)"].model
    assert all(np.array_equal(a, b) for a, b in zip(shared.get_weights(), model.get_weights()))
    assert len(kept_arrays(other)[1]) == 0  # a model, never the drawings it was taught


# -- in a real browser ----------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_in_a_browser_kept_drawings_open_by_link_in_a_fresh_session_only(chromium, screenshots):
    """Keep a correction, open the address bar's link in a fresh browser context (its own session): the
    drawing is there; a third context without the link has none."""
    from harness import PATIENCE, canvas_ready, start_app, stop_app

    shots = screenshots
    proc, url = start_app()  # on the test's empty store (store_url above: DIGIT_LAB_STORE_URL, passed on)
    try:
        page = chromium.new_context(viewport={"width": 1280, "height": 1400}).new_page()
        page.set_default_timeout(PATIENCE * 1000)
        page.goto(url)
        canvas_ready(page)
        draw_stroke(page, [(140, 40), (140, 240)], steps=8)  # a "1"
        page.locator(".st-key-correction").get_by_role("radio", name="7", exact=True).click()
        page.get_by_text("(kept as a 7)").wait_for()
        page.locator(".st-key-drawings_open summary").click()
        page.locator(".st-key-keep_drawings button:visible").click()
        page.wait_for_url("**mine=*")
        mine = page.url.split("mine=")[1].split("&")[0]
        assert valid_id(mine), page.url
        page.get_by_text(PRIVATE, exact=False).wait_for()
        page.screenshot(path=str(shots / "draw-keep-my-drawings.png"), full_page=True)

        fresh = chromium.new_context(viewport={"width": 1280, "height": 1400}).new_page()
        fresh.set_default_timeout(PATIENCE * 1000)
        fresh.goto(f"{url}/?mine={mine}")
        fresh.get_by_text("Loaded 1 drawing from the link into Your drawings.").wait_for()
        fresh.locator(".st-key-drawings_open img").first.wait_for()
        assert fresh.locator(".st-key-drawings_open img").count() == 1
        assert fresh.locator(".st-key-drawings_open").get_by_text("7", exact=True).count() == 1
        fresh.screenshot(path=str(shots / "draw-kept-drawings-opened.png"), full_page=True)

        stranger = chromium.new_context(viewport={"width": 1280, "height": 1400}).new_page()
        stranger.set_default_timeout(PATIENCE * 1000)
        stranger.goto(url)
        stranger.locator("canvas.upper-canvas").wait_for()
        stranger.get_by_text("Draw a digit on the canvas").wait_for()
        assert stranger.locator(".st-key-drawings_open").count() == 0
        for tab in (page, fresh, stranger):
            tab.context.close()
    finally:
        stop_app(proc)
