"""The app in a real browser: Debian's chromium driven by Playwright, the server on 127.0.0.1.

One server for the module (each test its own browser context, so its own session); one training
slot, which the tests that train hand back. Screenshots of every page go to the `screenshots`
folder for a person to look at.
"""

import re
import time

import pytest

from harness import (
    DRAWING_LAYER,
    HAS_INK_JS,
    PATIENCE,
    ROOT,
    after_a_run,
    canvas_ready,
    draw_stroke,
    epochs_shown,
    open_app,
    prediction,
    settle,
    show_toolbar,
    start_app,
    stop_app,
)

# One xdist worker runs the module, so its tests share the one server.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("test_browser")]


@pytest.fixture(scope="module")
def server(mnist, chromium):
    """A fresh `streamlit run app.py` on 127.0.0.1 (once chromium is there to use it) with one training
    slot; yields its base URL."""
    proc, url = start_app({"DIGIT_LAB_MAX_RUNS": "1"})
    yield url
    stop_app(proc)


@pytest.fixture
def shoot(screenshots):
    """shoot(page, name): a full-page screenshot for a person to look at."""

    def take(page, name):
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 1100})
    pg = context.new_page()
    pg.set_default_timeout(PATIENCE * 1000)
    yield pg
    context.close()


def canvas_frame(page):
    """(left, top, screen pixels per canvas pixel) of the drawing canvas."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    return box["x"], box["y"], box["width"] / 280


def touch_stroke(context, page, points):
    """A finger stroke through canvas-pixel points (a touch screen has no hover)."""
    x0, y0, scale = canvas_frame(page)
    cdp = context.new_cdp_session(page)
    touches = [{"x": x0 + x * scale, "y": y0 + y * scale} for x, y in points]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": touches[:1]})
    for point in touches[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def has_ink(page):
    """True if the drawing canvas shows any stroke."""
    return page.locator(DRAWING_LAYER).last.evaluate(HAS_INK_JS)


def wait_for_ink(page):
    """Wait until the drawing canvas shows a stroke: Fabric paints a finished stroke onto it at the next
    animation frame, which on a busy machine comes after the mouse is up (a stroke that was swallowed
    never shows, and this times out)."""
    page.wait_for_function(HAS_INK_JS, arg=page.locator(DRAWING_LAYER).last.element_handle())


def test_deep_link_to_inspect_on_a_fresh_server(server, page, shoot):
    # The first visit of a fresh server goes straight to a shared Inspect link.
    page.goto(f"{server}/inspect?true=4&pred=9")
    page.get_by_role("heading", name="Inspect a model").wait_for()
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.get_by_role("link", name="Draw").wait_for()
    assert nav.get_by_role("link").count() == 4  # Draw, Train, Inspect, Gallery: not Streamlit's automatic list
    page.get_by_text(re.compile(r"mistakes? match")).wait_for()
    assert page.get_by_text(re.compile(r"^true 4 → 9")).count() > 0
    shoot(page, "inspect-shared-link")


def test_draw_predict_and_clear(server, page, shoot):
    websocket = open_app(page, server)
    canvas_ready(page)
    assert page.locator('[data-testid="stMetric"]').count() == 0
    shoot(page, "draw-empty")
    # A "7", drawn small in the top-left corner.
    draw_stroke(page, [(30, 30), (60, 30), (95, 30), (85, 55), (72, 85), (60, 120)])
    assert prediction(page) == "7"
    shoot(page, "draw-seven")
    canvas = page.locator("canvas.upper-canvas").element_handle()
    assert has_ink(page)
    page.get_by_role("button", name="Clear").click()
    page.get_by_text("Draw a digit on the canvas").wait_for()
    assert page.locator('[data-testid="stMetric"]').count() == 0
    deadline = time.monotonic() + PATIENCE
    while has_ink(page):  # the canvas wipes itself in place...
        assert time.monotonic() < deadline, "Clear left the strokes on the canvas"
        time.sleep(0.05)
    assert canvas.evaluate("c => c.isConnected")  # ...without being replaced
    # A "1", large in the middle, drawn at once after clearing (no wait: a fresh stroke must not be lost).
    draw_stroke(page, [(140, 40), (140, 120), (140, 240)])
    assert prediction(page) == "1"
    # The next rerun (another brush width) must not bring the cleared "7" back.
    page.get_by_role("button", name="Clear").click()
    page.get_by_text("Draw a digit on the canvas").wait_for()
    page.get_by_role("button", name="Brush").click()
    brush = page.get_by_role("slider", name="Brush width")
    brush.focus()
    after_a_run(websocket, page, lambda: brush.press("ArrowRight"))  # the rerun that used to redraw the "7"
    page.keyboard.press("Escape")
    assert page.locator('[data-testid="stMetric"]').count() == 0
    assert not has_ink(page)


def test_train_switch_pages_and_stop(server, page, shoot):
    start_long_run(page, server, shoot, shot="train-settings")
    first = epochs_shown(page)
    deadline = time.monotonic() + PATIENCE
    while epochs_shown(page) <= first:  # the charts gain points while we watch
        assert time.monotonic() < deadline, f"no new epoch in {PATIENCE} s"
        time.sleep(0.2)
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 2
    shoot(page, "train-running")
    # Switch to Draw while it trains, and back.
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Draw").click()
    page.get_by_role("heading", name="Draw a digit").wait_for()
    page.locator("canvas.upper-canvas").wait_for()
    shoot(page, "draw-while-training")
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Train").click()
    page.get_by_role("button", name="Stop", exact=True).wait_for()
    assert epochs_shown(page) >= 2
    assert "Stopped" not in page.content()  # leaving the page did not stop the run
    # Pause: the run holds after the epoch under way, the charts stop gaining points; Resume goes on.
    page.get_by_role("button", name="Pause", exact=True).click()
    paused = page.get_by_text(re.compile(r"^Paused after \d+ of 200 epochs"))
    held = int(paused.inner_text().split()[2])
    settle(page)
    assert epochs_shown(page) == held  # the charts show every epoch the run holds after ...
    time.sleep(1.5)
    assert epochs_shown(page) == held and paused.is_visible()  # ... and gain none while it is paused
    shoot(page, "train-paused")
    page.get_by_role("button", name="Resume", exact=True).click()
    deadline = time.monotonic() + PATIENCE
    while epochs_shown(page) <= held:
        assert time.monotonic() < deadline, f"no new epoch in {PATIENCE} s after Resume"
        time.sleep(0.2)
    # Stop keeps the last finished epoch (how soon it answers is a speed target, not asserted here).
    page.get_by_role("button", name="Stop", exact=True).click()
    stopped = page.get_by_text(re.compile(r"Stopped after \d+ finished epochs?"))
    kept = int(stopped.inner_text().split()[2])
    assert kept > held
    page.get_by_role("button", name="Download .npz").wait_for()
    assert epochs_shown(page) == kept
    shoot(page, "train-stopped")


def test_inspect_confusion_click_filters_mistakes(server, page, shoot):
    page.goto(f"{server}/inspect")
    page.get_by_text(re.compile(r"mistakes? match")).wait_for()
    images = page.locator('[data-testid="stImage"]')
    images.nth(24).wait_for(state="attached")  # 24 mistakes on the first page, plus the weight grid
    shoot(page, "inspect")
    # Click the (true 4, predicted 9) cell of the confusion matrix: the browser filters to it.
    cell = page.locator('path[aria-label^="predicted: 9; true: 4;"]')
    cell.scroll_into_view_if_needed()
    cell.click()
    page.wait_for_url(re.compile(r"true=4.*pred=9|pred=9.*true=4"))
    page.get_by_text(re.compile(r"^true 4 → 9")).first.wait_for()
    tiles, matching = page.get_by_text(re.compile(r"^true \d → \d")), page.get_by_text(re.compile(r"^true 4 → 9"))
    deadline = time.monotonic() + PATIENCE
    while tiles.count() != matching.count():  # the previous page of tiles fades out after the rerun
        assert time.monotonic() < deadline, f"{tiles.count()} tiles shown, {matching.count()} of them 4 → 9"
        time.sleep(0.2)
    first = page.get_by_role("button", name=re.compile("^Probabilities of test image")).first
    first.click()
    page.wait_for_url(re.compile(r"sample=\d+"))
    page.locator('[data-testid="stMetric"]').filter(has_text="Predicted").wait_for()
    shoot(page, "inspect-sample")


def test_a_stroke_can_start_where_the_hidden_toolbar_used_to_be(server, page):
    """The canvas component parks its invisible toolbar over the top-right corner; webapp/views/canvas.py moves it."""
    page.goto(server)
    # Only once the page's script has moved the toolbar away: it comes at the end of the page's
    # first run, which on a busy machine can be seconds after the canvas shows.
    canvas_ready(page)
    draw_stroke(page, [(250, 6), (250, 120), (250, 200)])  # straight in, no hover first
    wait_for_ink(page)
    assert prediction(page) == "1"


def test_a_finger_on_a_phone_draws_from_the_top_right_corner_too(server, chromium, shoot):
    """No hover on a touch screen: the hidden toolbar used to take every stroke starting there."""
    context = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        phone = context.new_page()
        phone.set_default_timeout(PATIENCE * 1000)
        phone.goto(server)
        canvas_ready(phone)
        phone.locator("canvas.upper-canvas").scroll_into_view_if_needed()
        touch_stroke(context, phone, [(250, y) for y in range(6, 216, 10)])
        assert prediction(phone) == "1"
        assert has_ink(phone)
        shoot(phone, "draw-phone")
    finally:
        context.close()


def test_pen_drawn_digits_replayed_with_the_mouse(server, page, mnist):
    """Digits drawn stroke by stroke in the browser read as well as the generator's own canvases."""
    from benchmarks import browser_drawn
    from drawn import iter_pen_strokes
    from mlp import load_model

    # Drawn with the page's default brush (18 px): no slider moves, whose rerun could cut a stroke short.
    drawings = [d for d in iter_pen_strokes(400, 3, mnist.x_test, mnist.y_test) if d[2] == 18][:8]
    assert len(drawings) == 8
    results = browser_drawn.run(page, server, load_model(ROOT / "models" / "default.npz"), drawings)
    summary = browser_drawn.summarise(results)
    assert summary["median_ink_iou"] > 0.85, results  # the generator draws what the canvas draws
    assert summary["browser_accuracy"] >= 7 / 8, results
    assert summary["agreement"] >= 7 / 8, results


PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(chromium):
    """A phone-sized touch screen: (context, page)."""
    context = chromium.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    pg = context.new_page()
    pg.set_default_timeout(PATIENCE * 1000)
    yield context, pg
    context.close()


def test_on_a_phone_the_canvas_fills_the_width_and_the_reading_shows_without_scrolling(server, phone, shoot):
    context, pg = phone
    pg.goto(server)
    canvas = pg.locator("canvas.upper-canvas")
    canvas_ready(pg)  # styled: the canvas takes the column's width
    box = canvas.bounding_box()
    assert box["width"] >= 0.9 * PHONE["width"], box  # the column's width, not 280 px
    assert box["y"] + box["height"] <= PHONE["height"], box  # the whole canvas on the first screen
    touch_stroke(context, pg, [(140, y) for y in range(40, 250, 10)])
    assert prediction(pg) == "1"
    reading = pg.locator('[data-testid="stMetric"]').filter(has_text="Prediction").bounding_box()
    assert canvas.bounding_box()["y"] == box["y"]  # nothing scrolled
    assert reading["y"] + reading["height"] <= PHONE["height"], reading
    shoot(pg, "draw-phone-reading")


def test_the_canvas_toolbar_offers_undo_and_redo_and_covers_no_control(server, page):
    page.goto(server)
    canvas_ready(page)
    show_toolbar(page)
    buttons = page.locator(".dc-toolbar button")
    shown = [buttons.nth(i).get_attribute("aria-label") for i in range(buttons.count()) if buttons.nth(i).is_visible()]
    assert shown == ["Undo", "Redo"]
    bar = page.locator(".dc-toolbar-card").bounding_box()
    controls = page.locator('[data-testid="stMain"] :is(button, input, [role="slider"]):not(.dc-icon-button)')
    for i in range(controls.count()):
        other = controls.nth(i).bounding_box()
        if other is None:
            continue
        apart = (bar["x"] + bar["width"] <= other["x"] or other["x"] + other["width"] <= bar["x"]
                 or bar["y"] + bar["height"] <= other["y"] or other["y"] + other["height"] <= bar["y"])
        assert apart, f"the toolbar {bar} covers a control at {other}"


def start_long_run(page, server, shoot=None, shot=None):
    """Open Train, set up a run of 200 epochs on 20,000 images (a screenshot named `shot`) and press Start."""
    page.goto(f"{server}/train")
    page.get_by_role("button", name="Start", exact=True).wait_for()
    sidebar = page.locator('[data-testid="stSidebar"]')
    hidden = sidebar.get_by_role("textbox", name="Hidden layer sizes")
    hidden.fill("128")
    hidden.press("Enter")
    epochs = sidebar.get_by_role("spinbutton", name="Epochs", exact=True)
    epochs.fill("200")
    epochs.press("Enter")
    sidebar.get_by_text("Train on a subset").click()
    subset = sidebar.get_by_role("spinbutton", name="Training images")
    subset.fill("20000")
    subset.press("Enter")
    settle(page)
    if shot:
        shoot(page, shot)
    page.get_by_role("button", name="Start", exact=True).click()


def test_pause_works_for_a_run_that_waits_for_its_turn(server, chromium, shoot):
    """A run whose start is slowed (here: waiting its turn behind another on the one-worker server) can be
    paused at once, and pauses after its first epoch.

    The buttons used to be drawn outside the refreshing panel from the state seen right after
    Start: a run not yet training then kept Pause disabled until the user left the page.
    """
    url = server
    first, second = chromium.new_context(viewport={"width": 1400, "height": 1100}), None
    try:
        a = first.new_page()
        a.set_default_timeout(PATIENCE * 1000)
        start_long_run(a, url)
        epochs_shown(a)  # the first run trains on the only worker
        second = chromium.new_context(viewport={"width": 1400, "height": 1100})
        b = second.new_page()
        b.set_default_timeout(PATIENCE * 1000)
        start_long_run(b, url)
        b.get_by_text(re.compile(r"^(Waiting for a turn|Epoch 1 of 200)")).wait_for()  # the run panel after Start
        pause = b.get_by_role("button", name="Pause", exact=True)
        assert pause.is_enabled()
        pause.click()
        b.get_by_role("button", name="Resume", exact=True).wait_for()
        # It takes its turn between the first run's epochs, trains one epoch, then holds, with no click.
        b.get_by_text(re.compile(r"^Paused after [12] of 200 epochs")).wait_for(timeout=PATIENCE * 1000)
        shoot(b, "train-paused-after-queue")
        a.get_by_text(re.compile(r"^Epoch \d+ of 200")).wait_for()  # the first run goes on meanwhile
        a.get_by_role("button", name="Stop", exact=True).click()
        a.get_by_text(re.compile(r"Stopped after \d+ finished epochs?")).wait_for()
        b.get_by_role("button", name="Stop", exact=True).click()
        b.get_by_text(re.compile(r"Stopped after [12] finished epochs?")).wait_for()
    finally:
        first.close()
        if second is not None:
            second.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_follows_the_visitors_colour_scheme(server, chromium, scheme, shoot):
    """No forced theme: the page background follows prefers-color-scheme. Screenshots of each page, both sizes."""
    for size, viewport in (("desktop", {"width": 1400, "height": 1100}), ("phone", PHONE)):
        context = chromium.new_context(viewport=viewport, color_scheme=scheme, is_mobile=size == "phone")
        try:
            pg = context.new_page()
            pg.set_default_timeout(PATIENCE * 1000)
            for name, heading in (("", "Draw a digit"), ("train", "Train a network"), ("inspect", "Inspect a model")):
                pg.goto(f"{server}/{name}")
                pg.get_by_role("heading", name=heading).wait_for()
                rgb = pg.locator('[data-testid="stApp"]').evaluate("e => getComputedStyle(e).backgroundColor")
                luminance = sum(int(c) for c in re.findall(r"\d+", rgb)[:3]) / (3 * 255)
                assert (luminance < 0.3) == (scheme == "dark"), (name, rgb)
                settle(pg)  # the page drawn, for the screenshot
                shoot(pg, f"{name or 'draw'}-{size}-{scheme}")
        finally:
            context.close()


def test_inside_the_network_follows_the_drawing_and_the_map_opens_a_test_image(server, page, shoot):
    page.goto(server)
    canvas_ready(page)
    draw_stroke(page, [(140, 40), (140, 120), (140, 240)])
    assert prediction(page) == "1"
    grids = page.get_by_text(re.compile(r"^Layer \d: [\d,]+ of 1,024 units active"))
    grids.nth(1).wait_for()
    first = grids.first.inner_text()
    shoot(page, "draw-activations")
    page.get_by_role("tab", name="Why this digit").click()
    page.get_by_text("Why 1?").wait_for()
    shoot(page, "draw-why")
    page.get_by_role("tab", name="Where it sits").click()
    page.get_by_text(re.compile("the orange diamond is your drawing")).wait_for()
    settle(page)  # the map drawn
    shoot(page, "draw-map")
    # A new stroke changes what the layers do (the views follow every stroke).
    page.get_by_role("tab", name="Activations").click()
    settle(page)
    draw_stroke(page, [(60, 60), (200, 60), (120, 240)])
    deadline = time.monotonic() + PATIENCE
    while grids.first.inner_text() == first:
        assert time.monotonic() < deadline, "the activation grids did not follow the new stroke"
        time.sleep(0.2)
    # A click on a dot of the map opens that test image on Inspect.
    page.get_by_role("tab", name="Where it sits").click()  # only the open tab runs: the map comes back
    page.get_by_text(re.compile("the orange diamond is your drawing")).wait_for()
    settle(page)
    chart = page.locator('[data-testid="stVegaLiteChart"]').last  # after the probability bars
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    # The dots are drawn on a canvas, not as page elements; the tooltip names the dot nearest the
    # pointer, the one a click selects (or the diamond, the drawing itself: then try further on).
    tooltip = page.locator("#vg-tooltip-element.visible")
    for fx in (0.3, 0.4, 0.5, 0.2, 0.6):
        x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * 0.5
        page.mouse.move(x, y)
        tooltip.wait_for()
        dot = re.search(r"test image\s+(\d+)", tooltip.inner_text())
        if dot:
            break
    assert dot, tooltip.inner_text()
    page.mouse.click(x, y)
    page.get_by_role("heading", name="Inspect a model").wait_for()
    page.locator('[data-testid="stMetric"]').filter(has_text="Predicted").wait_for()
    assert page.get_by_text(re.compile(r"^test image #\d+")).all_inner_texts() == [f"test image #{dot[1]}"]
    shoot(page, "inspect-from-map")


def test_on_a_phone_the_sidebar_folds_away_after_a_page_link(server, phone):
    """Streamlit left it open over the page the visitor asked for."""
    _, pg = phone
    pg.goto(f"{server}/train")
    pg.get_by_role("button", name="Start", exact=True).wait_for()
    settle(pg)
    pg.locator('[data-testid="stExpandSidebarButton"]').first.tap()
    sidebar = pg.locator('[data-testid="stSidebar"]')
    pg.wait_for_function("() => document.querySelector('[data-testid=stSidebar]').dataset.collapsed === 'false'")
    sidebar.get_by_role("link", name="Draw").tap()
    pg.get_by_role("heading", name="Draw a digit").wait_for()
    pg.wait_for_function("() => document.querySelector('[data-testid=stSidebar]').dataset.collapsed === 'true'")
    canvas = pg.locator("canvas.upper-canvas")
    canvas.wait_for()
    sidebar.evaluate("s => Promise.all(s.getAnimations({subtree: true}).map(a => a.finished.catch(() => null)))")
    box = canvas.bounding_box()
    on_top = pg.evaluate("([x, y]) => document.elementFromPoint(x, y)?.closest('[data-testid=stSidebar]') === null",
                         [box["x"] + box["width"] / 2, box["y"] + 20])
    assert on_top, "the sidebar still covers the canvas"
