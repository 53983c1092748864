"""The drawing canvas as tests see it: images as the component sends them, and its layer in the browser."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .pages import settle

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from playwright.sync_api import Locator, Page

# The canvas component's drawing layer (inside its shadow root; Playwright locators reach in),
# and a test of whether it shows any stroke: white ink, red channel above 128.
DRAWING_LAYER = "canvas.lower-canvas:not(.dc-background-canvas)"
HAS_INK_JS = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                      for (let i = 0; i < d.length; i += 4) if (d[i] > 128) return true; return false; }"""


# The page's script (webapp.views.canvas.SCRIPT, sent at the end of Draw's page run) has styled the canvas:
# its hidden toolbar no longer lies over the top-right corner, and on a phone the canvas takes the width.
CANVAS_STYLED_JS = """() => [...document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')].some(
    h => h.shadowRoot && h.shadowRoot.querySelector("canvas.upper-canvas")
         && h.shadowRoot.querySelector("style[data-digit-lab]"))"""
# The toolbar's fade-in under the pointer is over (its buttons are where they will stay).
TOOLBAR_SHOWN_JS = 'bar => getComputedStyle(bar).opacity === "1" && bar.getAnimations().length === 0'


def canvas_ready(page: Page) -> None:
    """Wait until Draw's canvas is on the page, styled by the page's script, and the app idle: a stroke
    drawn then lands where it is drawn, however long the page took on a busy machine."""
    page.locator("canvas.upper-canvas").wait_for()
    page.wait_for_function(CANVAS_STYLED_JS)
    settle(page)


def show_toolbar(page: Page) -> Locator:
    """Hover the canvas and wait until its Undo/Redo toolbar has faded in; the toolbar's locator."""
    page.locator("canvas.upper-canvas").hover()
    bar = page.locator(".dc-toolbar")
    page.wait_for_function(TOOLBAR_SHOWN_JS, arg=bar.element_handle())
    return bar


def canvas_data_url(digit28: ArrayLike, offset: tuple[int, int] = (60, 40), scale: int = 7) -> str:
    """A 280x280 RGBA canvas PNG (data URL) with an MNIST digit enlarged onto a black background."""
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    big = Image.fromarray(np.asarray(digit28, dtype=np.uint8))
    big = big.resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR)
    canvas.paste(Image.merge("RGBA", (big, big, big, Image.new("L", big.size, 255))), offset)
    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def canvas_value(data_url: str) -> dict[str, Any]:
    """The session-state value streamlit-drawable-canvas stores for a drawing."""
    return {"drawing": {"raw": {"objects": [{"type": "path"}], "background": "#000000"}, "data": data_url},
            "backgroundFit": None}


def draw_stroke(page: Page, points: Sequence[tuple[float, float]], steps: int = 4) -> None:
    """Drag the mouse through `points` given in canvas pixels (0-280), whatever size the canvas is
    shown at, moving in `steps` small moves between points as a hand does (a Playwright page)."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    assert box is not None, "the canvas is not shown"
    scale = box["width"] / 280
    page.mouse.move(box["x"] + points[0][0] * scale, box["y"] + points[0][1] * scale)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=steps)
    page.mouse.up()
