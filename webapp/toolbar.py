"""Keep the drawing canvas's floating toolbar off the drawing area.

streamlit-drawable-canvas 0.13 keeps its toolbar (undo, redo, clear, download) in the
canvas's top-right corner while it is hidden: invisible (opacity 0) but still on top,
so it swallows a stroke that starts there before the hover animation has moved it up,
and always on a touch screen, which has no hover. Replayed with the mouse in chromium,
9 of 60 generated digits lost a stroke that way and the page read 78% of them, against
93% for the same drawings offline; with this fix, 93% and the same answer for all 60
(benchmarks/browser_drawn.py).

The canvas lives in a shadow root (its styles are isolated), so page CSS cannot reach it:
a small script adds a rule to that root, parking the toolbar above the canvas and letting
clicks through while it is hidden. It only restyles; the component itself is unchanged.
"""

import json

import streamlit as st

TOOLBAR_CSS = (
    ".dc-toolbar{top:-3rem;pointer-events:none}"
    ".dc-root:hover>.dc-toolbar,.dc-toolbar:focus-within,.dc-toolbar[data-pinned=true]{pointer-events:auto}"
)

SCRIPT = """
<script>
(() => {
  if (window.__digitLabToolbarFix) return;
  window.__digitLabToolbarFix = true;
  const css = %s;
  const fix = () => {
    for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')) {
      const root = host.shadowRoot;
      if (root && root.querySelector('.dc-toolbar') && !root.querySelector('style[data-digit-lab]')) {
        const style = document.createElement('style');
        style.dataset.digitLab = 'toolbar';
        style.textContent = css;
        root.appendChild(style);
      }
    }
  };
  fix();
  setInterval(fix, 300);  // canvases mount later, and again after a page switch
})();
</script>
""" % json.dumps(TOOLBAR_CSS)


def keep_off_canvas():
    """Render the (invisible) script that restyles every drawing canvas's toolbar on this page."""
    st.html(SCRIPT, unsafe_allow_javascript=True, width="content")
