"""Handwriting styles MNIST lacks, simulated writers, and the held-out "real pen digits" set.

A style is one way people write one digit: a slashed or dotted zero, a 1 with a flag (and a
base bar), a 7 with a crossbar, a closed 4, a 9 with a straight stem, a looped 2... Each is made
in one of two ways:

* **added strokes**: an MNIST digit's skeleton (as ``drawn.skeleton`` traces it) plus the
  strokes a person adds (the slash through a 0, the flag on a 1, the bar across a 7);
* **a template**: the digit drawn from strokes in a unit box (y down, 0 at the top, 1 at the
  bottom; x from 0 to the digit's width) whose proportions are drawn at random.

Either way the strokes go through ``drawn.hand`` (slant, rotation, aspect, wobble, placement
anywhere on the 280x280 canvas at any size, a round brush 8-30 px) and ``drawn.render``.

    for d in iter_styled_digits(100, 0, ds.x_train, ds.y_train):
        d.canvas, d.label, d.style                      # (280, 280) uint8, 0-9, "zero_slashed"
    images, labels, styles = styled_images(20_000, 0, ds.x_train, ds.y_train)  # to train on
    score_styles(model, pen_digit_inputs(5000, seed=0))  # the held-out pen-digit score

A **writer** is one person's hand: one style per digit, a slant, rotation, aspect, pen width,
size and shakiness, all kept from drawing to drawing with a little variation, and a few source
digits per label redrawn each time (``make_writer``, ``iter_writer_digits``, ``writer_images``).

Where each part lives (everything is imported from ``drawn.styles``):

* ``table``: ``Style``, the table of styles ``STYLES`` and the population's mix ``PEN_MIX``;
* ``marks`` and ``templates``: how each style draws its strokes (a new style goes there, and
  into ``table``);
* ``styled``: sets of styled digits (``iter_styled_digits``, ``styled_images``);
* ``writers``: simulated writers (``Writer``, ``make_writer``, ``iter_writer_digits``);
* ``pen_digits``: the held-out pen-digit set and its score.
"""

from .pen_digits import PEN_PER_DIGIT as PEN_PER_DIGIT  # importable from here, as before the split
from .pen_digits import StyledInputs, pen_digit_inputs, score_styles
from .styled import StyledDigit, iter_styled_digits, styled_images, to_uint8
from .table import PEN_MIX, STYLES, STYLES_VERSION, Style, styles_of
from .writers import Writer, iter_writer_digits, make_writer, writer_images

__all__ = [
    "PEN_MIX",
    "STYLES",
    "STYLES_VERSION",
    "Style",
    "StyledDigit",
    "StyledInputs",
    "Writer",
    "iter_styled_digits",
    "iter_writer_digits",
    "make_writer",
    "pen_digit_inputs",
    "score_styles",
    "styled_images",
    "styles_of",
    "to_uint8",
    "writer_images",
]
