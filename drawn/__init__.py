"""Pen-drawn digits for evaluation: the generator and the scorer, outside the training code.

``drawn.generate`` redraws MNIST *test* digits as pen strokes on a 280x280 canvas, the way
the app's canvas draws them; ``drawn.score`` sends those canvases through the Draw page's
preprocessing and a model.

    from drawn import evaluate_drawn
    evaluate_drawn(model, n=2000, seed=0)["accuracy"]
"""

from .generate import (
    BRUSH_RANGE,
    CANVAS_SIDE,
    DRAWN_VERSION,
    HEIGHT_RANGE,
    DrawnDigit,
    DrawnDigits,
    iter_drawn_digits,
    iter_pen_strokes,
    make_drawn_digits,
    render_pen_strokes,
    skeletonize,
    stroke_width,
    trace_paths,
)
from .score import BRUSH_BUCKETS, HEIGHT_BUCKETS, DrawnInputs, drawn_inputs, evaluate_drawn, score_drawn

__all__ = [
    "BRUSH_BUCKETS",
    "BRUSH_RANGE",
    "CANVAS_SIDE",
    "DRAWN_VERSION",
    "HEIGHT_BUCKETS",
    "HEIGHT_RANGE",
    "DrawnDigit",
    "DrawnDigits",
    "DrawnInputs",
    "drawn_inputs",
    "evaluate_drawn",
    "iter_drawn_digits",
    "iter_pen_strokes",
    "make_drawn_digits",
    "render_pen_strokes",
    "score_drawn",
    "skeletonize",
    "stroke_width",
    "trace_paths",
]
