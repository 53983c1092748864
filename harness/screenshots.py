"""Screenshots of every page for README.md and docs/, taken in Debian's chromium from a fresh server.

    MLP_DATA_DIR=../shared python -m harness.screenshots [--out docs/images] [--epochs 8] [--subset 10000]

Starts the app on loopback with a throwaway store (so nothing of a developer's own store shows),
puts a few small models, trained here on a subset, in one class's Gallery, then visits the pages
in one session as a visitor does: trains a short run on a subset on Train (its charts), draws a 7
on Draw with the shipped model (the reading, then Inside the network), opens Inspect on its
confusion matrix, publishes the run to the class on Gallery (its leaderboard and cards); then
draws on a phone-sized screen. Writes PNGs 1280 px wide (the phone's 390 px), reduced to a
256-colour palette: on these flat pages that is less than half the size of a full-colour PNG or a
JPEG, with no visible loss. Needs MNIST (MLP_DATA_DIR).

tests/browser/test_screenshots.py runs the same visits with a smaller run, so this keeps working.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from .canvas import canvas_ready, draw_stroke
from .pages import ANIMATIONS_DONE_JS, PATIENCE, prediction, settle
from .server import CHROMIUM, CHROMIUM_ARGS, ROOT, start_app, stop_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, ViewportSize

OUT = ROOT / "docs" / "images"
WIDE: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
CLASS_CODE = "7b"
PUBLISHED_NAME = "Katherine: 128 units"  # the Train page's run, published to the class
SEVEN = [(90, 60), (130, 45), (185, 60), (170, 110), (140, 150), (120, 200), (110, 235)]  # canvas pixels
# (name in the gallery, `python -m mlp train` flags): small enough to train in a few seconds.
GALLERY_MODELS = (
    ("Ada: one layer of 32, SGD", ["--hidden", "32", "--optimizer", "sgd", "--lr", "0.05", "--subset", "5000"]),
    ("Grace: 64 tanh", ["--hidden", "64", "--activation", "tanh", "--subset", "10000"]),
    ("Alan: 256-128, dropout", ["--hidden", "256", "128", "--dropout", "0.2", "--subset", "10000"]),
)


def seed_gallery(store_url: str, models: Sequence[tuple[str, list[str]]] = GALLERY_MODELS, epochs: int = 3,
                 workdir: str | None = None) -> None:
    """Train each (name, CLI flags) model with `python -m mlp train` and publish it to CLASS_CODE in the store."""
    from webapp.store import Store, create_engine

    store = Store(create_engine(store_url))
    store.migrate()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for i, (name, flags) in enumerate(models):
            path = Path(tmp) / f"model{i}.npz"
            done = subprocess.run([sys.executable, "-m", "mlp", "train", *flags, "--epochs", str(epochs),
                                   "--seed", str(i), "--out", str(path)],
                                  cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"training {name!r} failed: {done.stderr[-2000:]}")
            store.put_model(path.read_bytes(), name=name, owner="screenshots", published=True, class_code=CLASS_CODE)


def shoot(page: Page, path: Path) -> Path:
    """A screenshot of what the page shows now, once the app is idle and no pointer hovers the canvas."""
    # Away from the canvas (its Undo/Redo bar shows under the pointer) and the sidebar (its fold button).
    size = page.viewport_size
    assert size is not None  # set by the context (WIDE, PHONE)
    page.mouse.move(size["width"] - 10, size["height"] // 2)
    settle(page)
    page.evaluate(ANIMATIONS_DONE_JS)  # charts fade in after the script run
    page.screenshot(path=str(path))
    return path


def scroll_to(locator: Locator, further: int = 0) -> None:
    """Scroll the page so that `locator` is at the top of the screen, then `further` pixels on."""
    locator.evaluate("""(e, further) => {
        e.scrollIntoView({block: 'start'});
        let box = e.parentElement;  // Streamlit scrolls its main block, not the document
        while (box && !(box.scrollHeight > box.clientHeight && getComputedStyle(box).overflowY !== 'visible'))
            box = box.parentElement;
        if (box) box.scrollBy(0, further);
    }""", further)


def open_page(page: Page, name: str, heading: str) -> None:
    """Go to another page through the sidebar, as a visitor does (a new address would start a new session)."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name).click()
    page.get_by_role("heading", name=heading).wait_for()


def train(page: Page, url: str, out: Path, epochs: int, subset: int) -> list[Path]:
    """Train: a run on a subset, set up through the address bar (as a shared link does), to its end."""
    page.goto(f"{url}/train?hidden=128&epochs={epochs}&use_subset=true&subset={subset}")
    start = page.get_by_role("button", name="Start", exact=True)
    start.wait_for()
    settle(page)
    start.click()
    page.get_by_text(f"Finished {epochs} epoch").wait_for(timeout=PATIENCE * 1000)
    return [shoot(page, out / "train.png")]


def pick_model(page: Page, name: str) -> None:
    """Choose `name` in the page's Model selector (the run trained first is the session's selection)."""
    page.get_by_role("combobox", name="Model", exact=True).click()
    page.get_by_role("option", name=name).first.click()
    settle(page)


def draw(page: Page, out: Path) -> list[Path]:
    """Draw: a 7 and its reading with the shipped model; then Inside the network (activations of both hidden
    layers)."""
    open_page(page, "Draw", "Draw a digit")
    pick_model(page, "Pretrained")
    canvas_ready(page)
    draw_stroke(page, SEVEN)
    assert prediction(page) == "7"
    shots = [shoot(page, out / "draw.png")]
    page.get_by_text(" units active").first.wait_for()
    scroll_to(page.get_by_role("heading", name="Inside the network"), further=50)  # the share buttons out of view
    shots.append(shoot(page, out / "draw-inside.png"))
    return shots


def inspect(page: Page, out: Path) -> list[Path]:
    """Inspect: the shipped model's confusion matrix, per-class accuracy and the first mistakes."""
    open_page(page, "Inspect", "Inspect a model")
    pick_model(page, "Pretrained")  # Draw chose it, but say so: Inspect shows the session's selection
    page.get_by_text("mistakes match").wait_for()
    page.locator('[data-testid="stImage"]').nth(7).wait_for()
    scroll_to(page.get_by_role("tablist"))
    return [shoot(page, out / "inspect.png")]


def gallery(page: Page, out: Path) -> list[Path]:
    """Gallery: the class's leaderboard, with the run trained above published to it, and the first cards."""
    open_page(page, "Gallery", "Gallery")
    code = page.get_by_role("textbox", name="Class code", exact=True)
    code.fill(CLASS_CODE)
    code.press("Enter")
    page.get_by_text(f"Class {CLASS_CODE}: leaderboard").wait_for()
    page.get_by_text("Publish one of your models").click()
    name = page.get_by_role("textbox", name="Name in the gallery")
    name.fill(PUBLISHED_NAME)
    name.press("Enter")
    settle(page)
    target = page.get_by_role("textbox", name="Class code (optional)")
    assert target.input_value() == CLASS_CODE  # the form follows the class typed on the page
    page.get_by_role("button", name="Publish").click()
    page.get_by_text(f"in class {CLASS_CODE}.").wait_for()
    page.locator(".dl-board .name", has_text=PUBLISHED_NAME).wait_for()
    scroll_to(page.get_by_role("heading", name=f"Class {CLASS_CODE}: leaderboard"), further=70)
    return [shoot(page, out / "gallery.png")]


def phone(browser: Browser, url: str, out: Path) -> list[Path]:
    """Draw on a phone-sized touch screen: the canvas takes the width, the reading shows below it."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, color_scheme="light")
    try:
        page = context.new_page()
        page.set_default_timeout(PATIENCE * 1000)
        page.goto(url)
        canvas_ready(page)
        draw_stroke(page, SEVEN)
        assert prediction(page) == "7"
        return [shoot(page, out / "draw-phone.png")]
    finally:
        context.close()


def visit_pages(browser: Browser, url: str, out: Path, epochs: int = 8, subset: int = 10000) -> list[Path]:
    """Every page's screenshots into `out` (a Playwright browser, the app's URL); the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=WIDE, color_scheme="light")
    try:
        page = context.new_page()
        page.set_default_timeout(PATIENCE * 1000)
        shots = train(page, url, out, epochs, subset)  # then the other pages in the same session
        shots += draw(page, out)
        shots += inspect(page, out)
        shots += gallery(page, out)  # publishes the run trained first
    finally:
        context.close()
    return shots + phone(browser, url, out)


def shrink(path: Path) -> None:
    """Rewrite a PNG with a 256-colour palette (these pages have few colours), as small as zlib makes it."""
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


@contextlib.contextmanager
def app_with_gallery(models: Sequence[tuple[str, list[str]]] = GALLERY_MODELS, epochs: int = 3) -> Iterator[str]:
    """A fresh server on loopback whose throwaway store holds `models` published to CLASS_CODE; yields its URL."""
    with tempfile.TemporaryDirectory() as tmp:
        store_url = f"sqlite:///{tmp}/store.sqlite"
        seed_gallery(store_url, models, epochs, workdir=tmp)
        proc, url = start_app({"DIGIT_LAB_STORE_URL": store_url})
        try:
            yield url
        finally:
            stop_app(proc)


def run(out: Path | str = OUT, epochs: int = 8, subset: int = 10000) -> list[Path]:
    """Every screenshot, from a fresh server with a seeded gallery, shrunk; the paths written."""
    from playwright.sync_api import sync_playwright

    with app_with_gallery() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            shots = visit_pages(browser, url, Path(out), epochs, subset)
        finally:
            browser.close()
    for path in shots:
        shrink(path)
    return shots


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=OUT, help="folder for the PNGs (default: docs/images)")
    p.add_argument("--epochs", type=int, default=8, help="epochs of the Train page's run (default 8)")
    p.add_argument("--subset", type=int, default=10000, help="training images of that run (default 10000)")
    args = p.parse_args(argv)
    for path in run(args.out, args.epochs, args.subset):
        with Image.open(path) as im:
            print(f"{path}  {im.width}x{im.height}  {path.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
