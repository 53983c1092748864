"""The Gallery, Draw and Train on the screens of a newcomer's first hour and of a class's projector,
in a real browser (Debian's chromium driven by Playwright, the server on 127.0.0.1, its own store).

Screenshots go to the `screenshots` folder for a person to look at.
"""

import time

import pytest

from harness import (
    ANIMATIONS_DONE_JS,
    PATIENCE,
    canvas_ready,
    draw_stroke,
    prediction,
    settle,
    show_toolbar,
    start_app,
    stop_app,
)
from mlp import MLP, model_to_bytes
from webapp.store import Store, create_engine

# One xdist worker runs the module, so its tests share the one server.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("test_gallery_browser")]

PHONE = {"width": 390, "height": 844}
PROJECTOR = {"width": 1920, "height": 1080}
CLASS = "room-1"


def publish(store, name, accuracy, seed, code=CLASS):
    """A small model with a claimed test accuracy, published to the class (as a student's Publish does)."""
    model = MLP([784, 16, 10], seed=seed)
    model.meta["test_accuracy"] = accuracy
    return store.put_model(model_to_bytes(model), name=name, owner=f"student-{seed}", published=True,
                           class_code=code)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('store')}/store.sqlite"


@pytest.fixture(scope="module")
def store(store_url):
    shared = Store(create_engine(store_url))
    shared.migrate()
    publish(shared, "Ada Lovelace's very first network", 0.912, 1)
    publish(shared, "Grace", 0.874, 2)
    publish(shared, "Alan", 0.953, 3, code=None)
    return shared


@pytest.fixture(scope="module")
def server(store, store_url, chromium):
    """The app on 127.0.0.1 over the module's store; yields its base URL."""
    proc, url = start_app({"DIGIT_LAB_STORE_URL": store_url})
    yield url
    stop_app(proc)


def new_page(chromium, viewport, scheme="light"):
    phone = viewport["width"] < 500
    context = chromium.new_context(viewport=viewport, color_scheme=scheme, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.set_default_timeout(PATIENCE * 1000)
    return context, page


@pytest.fixture
def shoot(screenshots):
    """shoot(page, name, full_page=False): a screenshot for a person to look at, once pictures and charts are in."""

    def take(page, name, full_page=False):
        page.mouse.move(page.viewport_size["width"] - 5, page.viewport_size["height"] - 5)
        settle(page)
        page.evaluate(ANIMATIONS_DONE_JS)  # pictures and charts fade in
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=full_page)

    return take


def board_names(page):
    return [n.strip() for n in page.locator(".dl-board .name").all_inner_texts()]


def test_the_class_leaderboard_shows_a_newly_published_model_without_a_reload(server, store, chromium, shoot):
    context, page = new_page(chromium, PROJECTOR)
    try:
        page.goto(f"{server}/gallery?class={CLASS}&projector=1")
        page.locator(".dl-board li").nth(1).wait_for()
        assert board_names(page) == ["Ada Lovelace's very first network", "Grace"]
        # Legible from the back of a room: large type, in the first screenful, without the sidebar.
        size = page.locator(".dl-board li").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert size >= 40, size
        assert not page.locator('[data-testid="stSidebar"]').is_visible()
        settle(page)
        page.evaluate("window.__sameDocument = 42")  # gone if the page reloads
        shoot(page, "leaderboard-projector-before")

        publish(store, "Katherine <b>bold</b>", 0.981, 4)  # a student publishes meanwhile
        page.locator(".dl-board .name", has_text="Katherine").wait_for()  # within the board's 5 s refresh
        assert board_names(page) == ["Katherine <b>bold</b>", "Ada Lovelace's very first network", "Grace"]
        assert page.locator(".dl-board li").first.locator(".rank").inner_text() == "1"
        assert page.evaluate("window.__sameDocument") == 42
        shoot(page, "leaderboard-projector")
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_gallery_cards_fit_a_phone_and_open_on_draw(server, chromium, scheme, shoot):
    context, page = new_page(chromium, PHONE, scheme)
    try:
        page.goto(f"{server}/gallery")
        links = page.locator(".st-key-gallery_cards").get_by_role("link", name="Try on Draw")
        links.nth(2).wait_for()
        settle(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        for i in range(links.count()):
            box = links.nth(i).bounding_box()
            assert 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], box
        first = page.locator(".st-key-gallery_cards h3").first
        assert first.inner_text().startswith("1. ")
        box = first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        pictures = page.locator('.st-key-gallery_cards [data-testid="stImage"] img')
        assert pictures.count() == links.count()
        picture = pictures.first.bounding_box()
        assert picture["width"] >= 0.6 * PHONE["width"], picture  # a card a row: the picture takes its width
        shoot(page, f"gallery-phone-{scheme}", full_page=True)
        name = first.inner_text().split(". ", 1)[1]
        links.first.tap()
        page.get_by_role("heading", name="Draw a digit").wait_for()
        model = page.get_by_role("combobox", name="Model", exact=True)
        deadline = time.monotonic() + PATIENCE
        while not model.input_value().startswith(f"{name} (shared)"):
            assert time.monotonic() < deadline, model.input_value()
            time.sleep(0.2)
    finally:
        context.close()


def test_gallery_cards_sit_three_in_a_row_on_a_laptop(server, chromium, shoot):
    context, page = new_page(chromium, {"width": 1280, "height": 900})
    try:
        page.goto(f"{server}/gallery")
        links = page.locator(".st-key-gallery_cards").get_by_role("link", name="Inspect")
        links.nth(2).wait_for()
        settle(page)
        heads = [page.locator(".st-key-gallery_cards h3").nth(i).bounding_box() for i in range(3)]
        assert len({round(h["y"]) for h in heads}) == 1, heads  # one row: the cards' names side by side
        assert heads[0]["x"] < heads[1]["x"] < heads[2]["x"]
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        shoot(page, "gallery-laptop")
    finally:
        context.close()


def test_on_a_phone_undo_covers_no_text_and_a_letter_reads_as_no_digit(server, chromium, shoot):
    context, page = new_page(chromium, PHONE)
    try:
        page.goto(server)
        canvas_ready(page)
        draw_stroke(page, [(60, 250), (140, 30), (220, 250)])
        settle(page)
        draw_stroke(page, [(95, 160), (185, 160)])
        assert prediction(page) == "?"
        page.get_by_text("That doesn't look like a digit").wait_for()
        show_toolbar(page)
        bar = page.locator(".dc-toolbar-card").bounding_box()
        for text in page.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]').all():
            other = text.bounding_box()
            apart = (bar["y"] + bar["height"] <= other["y"] or other["y"] + other["height"] <= bar["y"]
                     or bar["x"] + bar["width"] <= other["x"] or other["x"] + other["width"] <= bar["x"])
            assert apart, f"Undo/Redo {bar} covers text at {other}"
        shoot(page, "draw-phone-letter")
    finally:
        context.close()


def test_on_a_phone_train_says_where_the_settings_are(server, chromium, shoot):
    hint = "The settings are in the sidebar"
    context, page = new_page(chromium, PHONE)
    try:
        page.goto(f"{server}/train")
        page.get_by_role("button", name="Start", exact=True).wait_for()
        settle(page)
        assert page.get_by_text(hint).is_visible()
        shoot(page, "train-phone")
        page.locator('[data-testid="stExpandSidebarButton"]').first.tap()
        page.wait_for_function("() => document.querySelector('[data-testid=stSidebar]').dataset.collapsed === 'false'")
        assert not page.get_by_text(hint).is_visible()
    finally:
        context.close()
    context, page = new_page(chromium, {"width": 1280, "height": 900})
    try:  # the sidebar is open on a laptop: no hint
        page.goto(f"{server}/train")
        page.get_by_role("button", name="Start", exact=True).wait_for()
        settle(page)
        assert not page.get_by_text(hint).is_visible()
    finally:
        context.close()
