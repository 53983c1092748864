"""Text from others is always text: a name, and every field of a file, that Markdown would turn into a remote
image, a link or the app's own voice, shown where visitors meet it, on PostgreSQL where the test one is set
up (else SQLite).

One visitor publishes a model named like an image that would report every viewer's address, from a
file whose metadata tries the same; each test is one place another visitor meets that name. In each:
no image or link leaves the app, nothing is fetched from the trap's address, and the name reads as typed.
"""


import urllib.parse

import pytest
import sqlalchemy as sa
from visitors import Visitor, fresh_store, server, store_kind

from harness import canvas_ready, draw_stroke
from harness.hostile import model_file_with_meta
from harness.pages import settle
from webapp.store import MODELS

NAME = "![p](http://127.0.0.1:9/x.png)"  # Markdown's remote image; 127.0.0.1:9 (discard) is the trap
TRAP = "127.0.0.1:9"
META = {"created": "**:red[Session expired — sign in again](http://127.0.0.1:9/login)**",
        "name": "<img src=http://127.0.0.1:9/y.png>", "test_accuracy": 0.5,
        "training": {"optimizer": "adam", "lr": 0.001, "epochs": 1, "hidden": [16]}}


# One xdist worker runs the module, so its tests share the one server.
pytestmark = pytest.mark.xdist_group("hostile_text")


@pytest.fixture(scope="module")
def published(tmp_path_factory, chromium):
    """A server whose class room-1 holds the hostile model; (server URL, its store id)."""
    with fresh_store(store_kind(), tmp_path_factory.mktemp("store")) as store_url, server(store_url) as (proc, url):
        attacker = Visitor(chromium, url)
        attacker.open()
        attacker.upload("trap.npz", model_file_with_meta(META, layer_sizes=(784, 16, 10)))
        attacker.publish(NAME, "room-1")
        attacker.close()
        engine = sa.create_engine(store_url)
        with engine.connect() as conn:
            model_id = conn.scalar(sa.select(MODELS.c.id).where(MODELS.c.name == NAME))
        engine.dispose()
        assert model_id
        yield url, model_id


def assert_text_only(visitor, *expected):
    """Each expected text shows as typed (waited for: the page may still be answering), nothing leaves the app,
    and nothing was fetched from the trap."""
    for text in expected:
        visitor.wait_for_text(text)
    assert visitor.markup_in_main() == []
    assert [u for u in visitor.fetched if TRAP in u] == []


@pytest.fixture
def visitor(chromium, published):
    v = Visitor(chromium, published[0])
    yield v
    v.close()


def test_on_draw_the_selector_and_the_share_notice(visitor, published):
    page = visitor.open(f"?model={published[1]}")
    assert visitor.selected_model().startswith(f"{NAME} (shared)")
    page.get_by_role("button", name="Share model").click()
    settle(page)
    assert_text_only(visitor, f"Anyone with this link gets {NAME} (shared):")


def test_on_draw_two_models_side_by_side(visitor, published):
    page = visitor.open(f"?model={published[1]}")
    canvas_ready(page)
    draw_stroke(page, [(140, 40), (140, 240)], steps=8)
    settle(page)
    page.get_by_role("tab", name="Two models").click()
    settle(page)
    assert_text_only(visitor, f"{NAME} (shared)")


def test_on_draw_teaching_a_copy(visitor, published, mnist):  # teaching replays MNIST
    page = visitor.open(f"?model={published[1]}")
    canvas_ready(page)
    for i, stroke in enumerate(([(140, 40), (140, 240)], [(60, 60), (200, 60), (120, 240)], [(80, 40), (90, 250)])):
        if i:
            page.get_by_role("button", name="Clear").click()
            settle(page)
        draw_stroke(page, stroke, steps=8)
        settle(page)
        page.locator(".st-key-correction").get_by_role("radio", name="7", exact=True).click()
        settle(page)
    visitor.wait_for_text(f"Fine-tunes a copy of {NAME} (shared)")
    page.get_by_role("button", name="Teach the model").click()
    visitor.wait_for_text("learnt your 3 drawings")
    settle(page)
    assert_text_only(visitor, f"Fine-tunes a copy of {NAME} (shared)", f"{NAME} (shared) + yours learnt your")


def test_on_inspect_the_summary_and_compare(visitor, published, mnist):  # Inspect scores on the test set
    page = visitor.open(f"inspect?model={published[1]}")
    assert visitor.selected_model().startswith(f"{NAME} (shared)")
    assert "Session expired" not in visitor.main_text()  # the file's `created` was no time: dropped on load
    page.get_by_role("tab", name="Compare with another model").click()
    settle(page)
    assert_text_only(visitor, f"A: {NAME} (shared)")


def test_on_train_the_model_list(visitor, published):
    visitor.open(f"train?model={published[1]}")
    assert_text_only(visitor, f"{NAME} (shared)")


def test_on_train_a_links_settings(visitor, published):
    """A Train link's settings are text a visitor typed: a problem that quotes one shows it as typed, in the
    sidebar under its widget and above Start."""
    visitor.open(f"train?lr={urllib.parse.quote(NAME)}&hidden=5000")
    quoted = f"learning rate must be a number such as 0.001, got '{NAME}'"
    assert_text_only(visitor, f"Fix the settings marked in the sidebar to start: hidden layers of more than 4096 "
                              f"units are too slow here, got 5000; {quoted}")
    sidebar = visitor.page.locator('[data-testid="stSidebar"]')
    assert quoted in sidebar.inner_text().replace("\u2060", "")
    assert sidebar.locator("img").count() == 0 and sidebar.locator(f'a[href*="{TRAP}"]').count() == 0


def test_in_the_gallery_and_on_the_projected_leaderboard(visitor, published):
    visitor.open("gallery?class=room-1")
    assert_text_only(visitor, NAME)
    visitor.open("gallery?class=room-1&projector=1")
    assert_text_only(visitor, NAME)
