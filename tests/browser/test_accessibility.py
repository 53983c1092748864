"""Accessibility in a real browser: axe-core's WCAG 2.1 A and AA rules on every page and tab, in light and dark,
and every control within reach of the keyboard.

One visitor trains on Train (checked before, during, paused and stopped), draws on Draw (an unsure
reading, then a 7 and each tab of Inside the network, Your drawings, sharing and the upload), opens
each tab of Inspect, and visits the Gallery's cards, Publish, a class's leaderboard and its projector
view. axe-core (node_modules/, from `npm ci`: package.json pins it) checks each view in the light and
in the dark colour scheme: the app follows the browser's preference, and switches as soon as it
changes, so one tour sees every view both ways (a page loaded dark shows what a switched one does:
the server draws nothing by scheme). No violation may be critical or serious. Every view's findings,
whatever their impact, go to accessibility/<scheme>.json beside the screenshots (pytest's temporary
folder, or --screenshots DIR).

The keyboard test tabs through each page to its controls and works them with Enter, Space and the
arrow keys. Only drawing needs a pointer: the canvas takes strokes, nothing else.

Skipped where axe-core is not installed, a failure under CI.
"""

import json
import re
import time

import pytest

from harness import ANIMATIONS_DONE_JS, PATIENCE, axe, draw_stroke, epochs_shown, prediction, start_app, stop_app
from harness.pages import settle
from harness.screenshots import SEVEN, pick_model
from mlp import MLP, model_to_bytes
from needs import missing
from webapp.store import Store, create_engine

# One xdist worker runs the module, so its tests share the one server.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("test_accessibility")]

CLASS = "x"
WIDE = {"width": 1280, "height": 900}
# Train's run: paused after two epochs or so, then stopped. Wide enough that its epochs take a while even on a
# quiet machine (runs go several short epochs to a task: 128 units finished all 200 before the tour paused it).
HIDDEN, EPOCHS, SUBSET = 1024, 200, 10000

LETTER_A = [[(60, 250), (140, 30), (220, 250)], [(95, 160), (185, 160)]]  # no digit: Draw says "?"
# (rule, CSS selector): nodes the app cannot change, each with its reason. Nothing else is excused.
ALLOWED = ()


@pytest.fixture(scope="module")
def axe_core():
    """harness.axe, with axe-core installed; skipped where it is not, a failure under CI."""
    if axe.AXE is None:
        missing(f"axe-core is not installed at {axe.AXE_FILE} (npm ci installs it)")
    return axe


@pytest.fixture(scope="module")
def server(mnist, chromium, tmp_path_factory):
    """The app on 127.0.0.1 with a fresh store holding one model published to class CLASS; yields its URL."""
    store_url = f"sqlite:///{tmp_path_factory.mktemp('store')}/store.sqlite"
    store = Store(create_engine(store_url))
    store.migrate()
    model = MLP([784, 16, 10], seed=1)
    model.meta["test_accuracy"] = 0.912
    store.put_model(model_to_bytes(model), name="Ada's first network", owner="student-1", published=True,
                    class_code=CLASS)
    proc, url = start_app({"DIGIT_LAB_STORE_URL": store_url})
    yield url
    stop_app(proc)


def new_page(chromium, scheme, viewport=WIDE):
    context = chromium.new_context(viewport=viewport, color_scheme=scheme)
    page = context.new_page()
    page.set_default_timeout(60_000)
    return context, page


def open_page(page, name, heading):
    """Another page through the sidebar, in the same session."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name).click()
    page.get_by_role("heading", name=heading).wait_for()
    settle(page)


def open_tab(page, name):
    page.get_by_role("tab", name=name, exact=True).click()
    settle(page)
    page.evaluate(ANIMATIONS_DONE_JS)  # charts and pictures fade in


SCHEMES = ("light", "dark")
# The page's background is light in the light scheme, dark in the dark one (luminance of its RGB, 0 to 255).
BACKGROUND_IS_JS = """scheme => {
  const rgb = getComputedStyle(document.querySelector('[data-testid="stApp"]')).backgroundColor.match(/[\\d.]+/g);
  const light = (Number(rgb[0]) + Number(rgb[1]) + Number(rgb[2])) / 3 > 127;
  return light === (scheme === 'light');
}"""


def use_scheme(page, scheme):
    """Switch the browser's colour preference and wait until the app shows it."""
    page.emulate_media(color_scheme=scheme)
    page.wait_for_function(BACKGROUND_IS_JS, arg=scheme)


class Views:
    """The violations axe-core finds in each view a visitor opens, in each colour scheme, by view."""

    def __init__(self, page, scheme):
        self.page, self.scheme, self.found = page, scheme, {s: {} for s in SCHEMES}

    def check(self, view):
        """Check what the page shows in the scheme it is in, then in the other one, where the tour goes on (each
        switch makes the app draw the page again: one per view)."""
        for scheme in sorted(SCHEMES, key=lambda s: s != self.scheme):
            if scheme != self.scheme:
                use_scheme(self.page, scheme)
                self.scheme = scheme
            settle(self.page)
            self.page.evaluate(ANIMATIONS_DONE_JS)  # charts and pictures fade in
            self.found[scheme][view] = axe.check(self.page, ALLOWED)
            print(f"{view}, {scheme}: {axe.counts(self.found[scheme][view])}")

    def save(self, folder):
        """Every view's violations, as JSON, one file per scheme, for a person to read."""
        folder.mkdir(parents=True, exist_ok=True)
        for scheme, found in self.found.items():
            (folder / f"{scheme}.json").write_text(json.dumps(found, indent=1, ensure_ascii=False))

    def failures(self):
        return "\n\n".join(f"== {view}, {scheme} theme\n{axe.report(bad)}" for scheme, found in self.found.items()
                           for view, violations in found.items()
                           if (bad := [v for v in violations if v["impact"] in axe.BLOCKING]))


def wait_until(condition, what):
    """Poll `condition` until it holds; fails after harness.PATIENCE (a guard against a hang, not a speed target)."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"no {what} in {PATIENCE} s"
        time.sleep(0.2)


def visit_train(page, url, views):
    page.goto(f"{url}/train?hidden={HIDDEN}&epochs={EPOCHS}&use_subset=true&subset={SUBSET}")
    start = page.get_by_role("button", name="Start", exact=True)
    start.wait_for()
    settle(page)
    views.check("Train, before a run")
    start.click()
    wait_until(lambda: epochs_shown(page) >= 2, "two epochs on the charts")  # Pause and Stop usable
    views.check("Train, a run under way")
    page.get_by_role("button", name="Pause", exact=True).click()
    # After the epoch under way: training runs only on CPU time nothing else wants (SCHED_IDLE), and a busy
    # machine (the other test worker) may leave it little for a while.
    page.get_by_text("Paused after").wait_for(timeout=PATIENCE * 1000)
    views.check("Train, a paused run")
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_text("Stopped after").wait_for(timeout=PATIENCE * 1000)
    page.get_by_text("Continue training a model").click()
    page.get_by_role("button", name="Continue", exact=True).wait_for()
    views.check("Train, a stopped run and Continue")


def visit_draw(page, views):
    open_page(page, "Draw", "Draw a digit")
    pick_model(page, "Pretrained")
    page.locator("canvas.upper-canvas").wait_for()
    time.sleep(1)  # the canvas's styling script runs every 0.3 s
    for stroke in LETTER_A:
        draw_stroke(page, stroke)
        settle(page)
    page.get_by_text("That doesn't look like a digit").wait_for()  # its badge
    views.check("Draw, an unsure reading")
    page.get_by_role("button", name="Clear").click()
    settle(page)
    draw_stroke(page, SEVEN)
    assert prediction(page) == "7"
    page.get_by_text(" units active").first.wait_for()
    page.get_by_role("button", name="Show the test images it likes most").click()
    page.get_by_text("test images that excite unit").wait_for()
    views.check("Draw, Activations")
    for tab in ("Why this digit", "Where it sits", "Two models"):
        open_tab(page, tab)
        views.check(f"Draw, {tab}")
    page.locator(".st-key-correction button", has_text="7").click()  # Wrong? It's a …: keeps the drawing
    settle(page)
    page.locator('[data-testid="stExpander"] summary', has_text="Your drawings (1)").click()
    page.get_by_role("button", name="Clear all").wait_for()
    views.check("Draw, Your drawings")
    page.get_by_role("button", name="Share drawing").click()
    page.get_by_text("This link reopens your drawing").wait_for()
    page.get_by_text("Use your own model (.npz)").click()
    page.locator('[data-testid="stFileUploaderDropzone"]').wait_for()
    views.check("Draw, shared, and the upload")


def visit_inspect(page, views):
    open_page(page, "Inspect", "Inspect a model")
    pick_model(page, "My model 1")  # the run: Watch it learn replays it, Compare sets it against Pretrained
    found = page.get_by_text("mistakes match")
    while found.count() != 1:  # Pretrained's list goes once the run's is drawn
        time.sleep(0.2)
    settle(page)
    page.locator('[class*="st-key-s-"] button').first.click()  # a mistake's probabilities
    page.get_by_role("button", name="Close").wait_for(timeout=PATIENCE * 1000)
    settle(page)  # the dialog's run over: until then the page may show the old expander beside the new one
    page.get_by_text("Training settings").click()
    page.locator('[data-testid="stDataFrame"]').wait_for()
    views.check("Inspect, Confusion matrix and mistakes")
    for tab in ("Weights", "Compare with another model", "Watch it learn", "Calibration"):
        open_tab(page, tab)
        views.check(f"Inspect, {tab}")


def visit_gallery(page, url, views):
    open_page(page, "Gallery", "Gallery")
    page.locator(".st-key-gallery_cards").get_by_role("link", name="Try on Draw").first.wait_for()
    page.get_by_text("Publish one of your models").click()
    page.get_by_role("button", name="Publish").wait_for()
    views.check("Gallery, cards and Publish")
    code = page.get_by_role("textbox", name="Class code", exact=True)
    code.fill(CLASS)
    code.press("Enter")
    page.get_by_text(f"Class {CLASS}: leaderboard").wait_for()
    views.check("Gallery, a class's leaderboard")
    page.goto(f"{url}/gallery?class={CLASS}&projector=1")
    page.locator(".dl-board li").first.wait_for()
    views.check("Gallery, projector view")


def test_no_page_has_a_critical_or_serious_accessibility_violation_light_or_dark(axe_core, server, chromium,
                                                                                screenshots):
    context, page = new_page(chromium, SCHEMES[0])
    views = Views(page, SCHEMES[0])
    try:
        visit_train(page, server, views)  # first: Inspect replays this run and compares it with Pretrained
        visit_draw(page, views)
        visit_inspect(page, views)
        visit_gallery(page, server, views)
    finally:
        context.close()
        views.save(screenshots / "accessibility")
    assert not views.failures(), f"axe-core:\n{views.failures()}"


# -- keyboard ----------------------------------------------------------------------------------------

FOCUSED = "els => els.some(e => e.matches(':focus'))"  # :focus matches inside shadow roots too


def tab_to(page, target, limit=250):
    """Press Tab until `target` (a locator) has the keyboard focus; the number of presses. Fails past `limit`
    (a page's whole tab order is far shorter: Tab goes round it, so a control behind the focus is reached too)."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if target.evaluate_all(FOCUSED):
            return presses
    raise AssertionError(f"Tab never reached {target}")


def nav_by_keyboard(page, name, heading):
    """Follow a sidebar link with Tab and Enter."""
    tab_to(page, page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name))
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=heading).wait_for()
    settle(page)


def test_every_control_is_reachable_and_usable_by_keyboard(server, chromium):
    """Tab reaches the controls of every page, and Enter, Space and the arrow keys work them. Drawing itself needs
    a pointer (the canvas takes strokes only), so the test draws with the mouse; everything around it is keyed."""
    context, page = new_page(chromium, "light")
    reached = {}
    try:
        # Train: Start, Pause and Stop, pressed from the keyboard; the sidebar's settings; the run's buttons.
        page.goto(f"{server}/train?hidden={HIDDEN}&epochs={EPOCHS}&use_subset=true&subset={SUBSET}")
        page.get_by_role("button", name="Start", exact=True).wait_for()
        settle(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        for name, role in (("Hidden layer sizes", "textbox"), ("Epochs", "spinbutton")):
            reached[f"Train: {name}"] = tab_to(page, sidebar.get_by_role(role, name=name, exact=True))
        reached["Train: Start"] = tab_to(page, page.get_by_role("button", name="Start", exact=True))
        page.keyboard.press("Enter")
        pause = page.get_by_role("button", name="Pause", exact=True)
        wait_until(lambda: pause.is_enabled() and epochs_shown(page) >= 2, "Pause usable after two epochs")
        reached["Train: Pause"] = tab_to(page, pause)
        page.keyboard.press("Enter")
        page.get_by_text("Paused after").wait_for()
        reached["Train: Stop"] = tab_to(page, page.get_by_role("button", name="Stop", exact=True))
        page.keyboard.press("Space")
        page.get_by_text("Stopped after").wait_for(timeout=PATIENCE * 1000)
        settle(page)
        for name in ("Download .npz", "Share model"):
            reached[f"Train: {name}"] = tab_to(page, page.get_by_role("button", name=name))

        # Gallery: the cards' links, Publish (the run just stopped), a class code, the projector switch.
        nav_by_keyboard(page, "Gallery", "Gallery")
        cards = page.locator(".st-key-gallery_cards")
        for name in ("Try on Draw", "Inspect"):
            reached[f"Gallery: {name}"] = tab_to(page, cards.get_by_role("link", name=name).first)
        publishing = page.locator("summary", has_text="Publish one of your models")
        reached["Gallery: Publish one of your models"] = tab_to(page, publishing)
        page.keyboard.press("Enter")
        publish = page.get_by_role("button", name="Publish", exact=True)
        reached["Gallery: Publish"] = tab_to(page, publish)
        page.keyboard.press("Enter")
        page.get_by_text("Published").first.wait_for()
        settle(page)
        reached["Gallery: Class code"] = tab_to(page, page.get_by_role("textbox", name="Class code", exact=True))
        page.keyboard.type(CLASS)
        page.keyboard.press("Enter")
        page.get_by_text(f"Class {CLASS}: leaderboard").wait_for()
        settle(page)
        reached["Gallery: Projector view"] = tab_to(page, page.get_by_role("switch", name="Projector view"))

        # Draw: the canvas's buttons, the model, sharing, the tabs of Inside the network (arrow keys).
        nav_by_keyboard(page, "Draw", "Draw a digit")
        page.locator("canvas.upper-canvas").wait_for()
        time.sleep(1)
        draw_stroke(page, SEVEN)  # the one thing that needs a pointer
        prediction(page)
        settle(page)
        for name, target in (("Undo", page.get_by_role("button", name="Undo")),
                             ("Clear", page.get_by_role("button", name="Clear", exact=True)),
                             ("Brush", page.get_by_role("button", name="Brush")),
                             ("Model", page.get_by_role("combobox", name="Model", exact=True)),
                             ("Wrong? It's a …", page.locator(".st-key-correction").get_by_role("radio").first),
                             ("Share model", page.get_by_role("button", name="Share model")),
                             ("Share drawing", page.get_by_role("button", name="Share drawing")),
                             ("Inside the network", page.get_by_role("tab", name="Activations"))):
            reached[f"Draw: {name}"] = tab_to(page, target)
        page.keyboard.press("ArrowRight")  # the next tab
        page.keyboard.press("Enter")
        page.get_by_role("tab", name="Why this digit", selected=True).wait_for()
        page.get_by_text("Red pixels are ink").wait_for()

        # Inspect: the model, the tabs, a mistake's probabilities and Close.
        nav_by_keyboard(page, "Inspect", "Inspect a model")
        reached["Inspect: Model"] = tab_to(page, page.get_by_role("combobox", name="Model", exact=True))
        probabilities = page.get_by_role("button", name=re.compile("^Probabilities of test image")).first
        probabilities.wait_for()
        reached["Inspect: a mistake's probabilities"] = tab_to(page, probabilities)
        page.keyboard.press("Enter")
        close = page.get_by_role("button", name="Close", exact=True)
        reached["Inspect: Close"] = tab_to(page, close)
        page.keyboard.press("Enter")
        close.wait_for(state="detached")
        reached["Inspect: tabs"] = tab_to(page, page.get_by_role("tab", name="Confusion matrix and mistakes"))
        page.keyboard.press("ArrowRight")
        page.keyboard.press("Enter")
        page.get_by_role("tab", name="Weights", selected=True).wait_for()
        page.get_by_role("slider", name="Units to show").wait_for()
    finally:
        context.close()
        print("Tab presses to reach each control (from the one before):", json.dumps(reached, indent=1))
