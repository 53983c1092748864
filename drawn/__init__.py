"""Pen-drawn digits for evaluation: the generator and the scorer, outside the training code.

``drawn.generate`` redraws MNIST *test* digits as pen strokes on a 280x280 canvas, the way
the app's canvas draws them; ``drawn.score`` sends those canvases through the Draw page's
preprocessing and a model. ``drawn.styles`` adds the handwriting styles MNIST lacks, simulated
writers and the held-out pen-digit set; ``drawn.negatives`` draws what is no digit (letters
from fonts, scribbles, shapes) through the same pen. The pen's stages are ``drawn.skeleton``
(source digit to strokes), ``drawn.hand`` (strokes to mouse events) and ``drawn.render``
(mouse events to the canvas).

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
from .negatives import (
    DIGIT_LIKE_LETTERS,
    FONTS,
    SHAPES,
    Negative,
    glyph_image,
    iter_negatives,
    letter_canvases,
    negative_images,
)
from .score import BRUSH_BUCKETS, HEIGHT_BUCKETS, DrawnInputs, drawn_inputs, evaluate_drawn, score_drawn
from .styles import (
    PEN_MIX,
    STYLES,
    Style,
    StyledDigit,
    StyledInputs,
    Writer,
    iter_styled_digits,
    iter_writer_digits,
    make_writer,
    pen_digit_inputs,
    score_styles,
    styled_images,
    writer_images,
)

__all__ = [
    "BRUSH_BUCKETS",
    "BRUSH_RANGE",
    "CANVAS_SIDE",
    "DIGIT_LIKE_LETTERS",
    "DRAWN_VERSION",
    "FONTS",
    "HEIGHT_BUCKETS",
    "HEIGHT_RANGE",
    "PEN_MIX",
    "SHAPES",
    "STYLES",
    "drawn_inputs",
    "DrawnDigit",
    "DrawnDigits",
    "DrawnInputs",
    "evaluate_drawn",
    "glyph_image",
    "iter_drawn_digits",
    "iter_negatives",
    "iter_pen_strokes",
    "iter_styled_digits",
    "iter_writer_digits",
    "letter_canvases",
    "make_drawn_digits",
    "make_writer",
    "Negative",
    "negative_images",
    "pen_digit_inputs",
    "render_pen_strokes",
    "score_drawn",
    "score_styles",
    "skeletonize",
    "stroke_width",
    "Style",
    "styled_images",
    "StyledDigit",
    "StyledInputs",
    "trace_paths",
    "Writer",
    "writer_images",
]
