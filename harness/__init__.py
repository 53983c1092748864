"""Test harness shared by the tests, the benchmarks and the screenshot script: a real app server, the drawing
canvas, the pages as a browser reads them, and axe-core run in them (`harness.axe`); `python -m
harness.screenshots` makes docs/images.

    from harness import start_app, stop_app, CHROMIUM
    proc, url = start_app({"DIGIT_LAB_MAX_RUNS": "2"})
"""

from .canvas import DRAWING_LAYER, HAS_INK_JS, canvas_data_url, canvas_ready, canvas_value, draw_stroke, show_toolbar
from .pages import ANIMATIONS_DONE_JS, PATIENCE, after_a_run, epochs_shown, open_app, prediction, settle
from .server import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, start_app, stop_app

__all__ = [
    "ANIMATIONS_DONE_JS",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DRAWING_LAYER",
    "HAS_INK_JS",
    "PATIENCE",
    "ROOT",
    "after_a_run",
    "canvas_data_url",
    "canvas_ready",
    "canvas_value",
    "draw_stroke",
    "epochs_shown",
    "free_port",
    "open_app",
    "prediction",
    "settle",
    "show_toolbar",
    "start_app",
    "stop_app",
]
