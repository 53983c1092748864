"""The drawing canvas: streamlit-drawable-canvas with a Clear button, a brush control and our styling.

Clear, in the browser, presses the canvas's own "Reset canvas & history" (hidden in its toolbar,
see below) instead of telling the server: the canvas wipes itself and sends its empty drawing,
one script run where a server-side Clear takes two (the click, then the empty drawing coming
back). Where that script does not run (AppTest, or before the canvas is mounted), the button works on
the server: it hands the canvas a new, empty initial drawing (a counter makes it new), the canvas
wipes itself in place and sends the empty drawing back. Remounting it under a new key instead
left a moment in which a fresh stroke fell on a canvas not yet listening. Until the empty
drawing arrives, the image just cleared is ignored.

The component keeps its floating toolbar (undo, redo, edit, reset, "update the app") in the
canvas's top-right corner while it is hidden: invisible (opacity 0) but on top, so it swallowed
strokes starting there (9 of 60 replayed drawings; always on a touch screen, which has no
hover). The canvas lives in a shadow root that page CSS cannot reach, so a small script adds a
rule to that root: the toolbar parks under the canvas's bottom-right corner, at the free end of
the row of Clear and Brush (above the canvas it covered the end of the intro text on a phone),
lets clicks through while hidden, and shows only Undo and Redo (Clear is ours; edit and "update
the app" mean nothing here). On a narrow screen the canvas is scaled by CSS to the column's
width; the component maps pointer positions through that scale, and still sends its 280x280 image.
"""

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import streamlit as st
from numpy.typing import NDArray
from streamlit_drawable_canvas import st_canvas

from webapp import images
from webapp.session import keys
from webapp.views import urlstate

SIZE = 280  # canvas pixels, whatever size it is shown at

CANVAS_CSS = (
    ".dc-toolbar{top:calc(100% + 0.5rem)!important;bottom:auto;pointer-events:none}"
    ".dc-root:hover>.dc-toolbar,.dc-toolbar:focus-within,.dc-toolbar[data-pinned=true]{pointer-events:auto}"
    '.dc-toolbar button[aria-label="Update the app with this drawing"],.dc-toolbar button[aria-label="Edit"],'
    '.dc-toolbar button[aria-label="Reset canvas & history"],.dc-toolbar-separator,.dc-toolbar-contextual'
    "{display:none!important}"
    "@media (max-width:640px){"
    "div:has(.canvas-root),.canvas-root,.dc-root,.dc-scroll{width:100%!important}"
    ".dc-container,.canvas-container{width:100%!important;height:auto!important;aspect-ratio:1/1}"
    ".dc-container canvas{width:100%!important;height:100%!important}}"
)
# The same on the page side: the component's host and its wrappers take the column's width.
PAGE_CSS = "@media (max-width:640px){.st-key-%s,.st-key-%s div{width:100%%!important}}" % (keys.CANVAS, keys.CANVAS)

SCRIPT = """
<style>%s</style>
<script>
(() => {
  if (window.__digitLabCanvasStyle) return;
  window.__digitLabCanvasStyle = true;
  const css = %s;
  const style = () => {
    for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')) {
      const root = host.shadowRoot;
      if (root && root.querySelector('.dc-toolbar') && !root.querySelector('style[data-digit-lab]')) {
        const el = document.createElement('style');
        el.dataset.digitLab = 'canvas';
        el.textContent = css;
        root.appendChild(el);
      }
    }
  };
  style();
  setInterval(style, 300);  // canvases mount later, and again after a page switch
  // Clear: a capturing listener on the document runs before Streamlit's own (on its root element),
  // so the click becomes the canvas's reset and never reaches the server as a button press.
  document.addEventListener('click', (event) => {
    if (!event.target.closest || !event.target.closest('.st-key-%s button')) return;
    for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')) {
      const reset = host.shadowRoot && host.shadowRoot.querySelector(
        '.dc-toolbar button[aria-label="Reset canvas & history"]');
      if (reset && !reset.disabled) {
        event.preventDefault();
        event.stopPropagation();
        reset.click();
        return;
      }
    }
  }, true);
})();
</script>
""" % (PAGE_CSS, json.dumps(CANVAS_CSS), keys.CLEAR)


def drawing_canvas() -> NDArray[np.uint8] | None:
    """Draw the canvas, Clear and the brush control; returns the drawing as RGBA (280, 280, 4) or None.

    The page renders SCRIPT once, outside the fragment this runs in (draw.py): it styles the
    canvas and makes Clear the canvas's reset, and need not be sent again with every stroke.
    """
    ss = st.session_state
    urlstate.keep({keys.BRUSH: 18})
    ss.setdefault(keys.CANVAS_ROUND, 0)
    st_canvas(  # its value (the PNG data URL the browser sent) is read from the session, below
        stroke_width=ss[keys.BRUSH], stroke_color="#FFFFFF", background_color="#000000",
        height=SIZE, width=SIZE, drawing_mode="freedraw", return_image_data=True, key=keys.CANVAS,
        initial_drawing={"objects": [], "cleared": ss[keys.CANVAS_ROUND]},
    )
    sent = _sent(ss.get(keys.CANVAS))  # the drawing the canvas last sent (a PNG data URL)
    drawing = sent
    if sent is not None and sent == ss.get(keys.CLEARED_DRAWING):
        drawing = None  # what was cleared, until the canvas sends its empty drawing back
    else:
        ss[keys.CLEARED_DRAWING] = None
    row = st.container(horizontal=True, vertical_alignment="center")
    # A callback: the canvas gets its new empty drawing in this very run, with no second rerun.
    row.button("Clear", key=keys.CLEAR, icon=":material/ink_eraser:", on_click=_clear)
    with row.popover("Brush", icon=":material/brush:"):
        st.slider("Brush width", 6, 40, key=keys.BRUSH, help="Pixels on the 280×280 canvas.")
    if drawing is None:
        return None
    try:  # decoded here, checked first: the component would decode whatever the browser sent
        return images.decode_canvas(drawing)
    except ValueError:
        return None  # not a drawing this canvas makes: read as an empty canvas


def _sent(value: Mapping[str, Any] | None) -> str | None:
    """The PNG data URL in the canvas's widget value, or None."""
    drawing = (value or {}).get("drawing") or {}
    return drawing.get("data")


def _clear() -> None:
    """Clear: hand the canvas a new, empty initial drawing, and ignore the one it holds until it sends the empty one."""
    ss = st.session_state
    ss[keys.CANVAS_ROUND] += 1
    ss[keys.CLEARED_DRAWING] = _sent(ss.get(keys.CANVAS))
