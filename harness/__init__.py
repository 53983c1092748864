"""Test harness shared by the tests, the benchmarks and the screenshot script: a real app server, the drawing
canvas, the pages as a browser reads them, and axe-core run in them (`harness.axe`); `python -m
harness.screenshots` makes docs/images.

    from harness import start_app, stop_app, CHROMIUM
    proc, url = start_app({"DIGIT_LAB_MAX_RUNS": "2"})
"""

from .canvas import DRAWING_LAYER, HAS_INK_JS, canvas_data_url, canvas_value, draw_stroke
from .pages import epochs_shown, prediction, settle
from .server import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, start_app, stop_app

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "DRAWING_LAYER",
    "HAS_INK_JS",
    "ROOT",
    "canvas_data_url",
    "canvas_value",
    "draw_stroke",
    "epochs_shown",
    "free_port",
    "prediction",
    "settle",
    "start_app",
    "stop_app",
]
