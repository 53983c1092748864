"""The drawn-digit evaluation set: skeletons, tracing, determinism, balance, canvases, pipeline score."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from drawn import (
    BRUSH_RANGE,
    CANVAS_SIDE,
    HEIGHT_RANGE,
    iter_drawn_digits,
    iter_pen_strokes,
    make_drawn_digits,
    render_pen_strokes,
    skeletonize,
    stroke_width,
    trace_paths,
)

MODEL = Path(__file__).resolve().parents[2] / "models" / "default.npz"


def shapes(n=20, seed=0):
    """(n, 28, 28) uint8 stand-ins for digits (thick random polylines) and labels 0..9."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        img = Image.new("L", (28, 28))
        ImageDraw.Draw(img).line([tuple(p) for p in rng.uniform(5, 23, (4, 2))], fill=255, width=3)
        out[i] = np.asarray(img)
    return out, np.arange(n) % 10


@pytest.fixture(scope="module")
def drawn():
    images, labels = shapes()
    return make_drawn_digits(60, 3, images, labels)


# -- skeleton and tracing ---------------------------------------------------------------------


def test_skeleton_of_a_thick_bar_is_a_one_pixel_line():
    bar = np.zeros((1, 40, 60), bool)
    bar[0, 15:24, 10:50] = True
    skeleton = skeletonize(bar)[0]
    assert skeleton[:, 20:40].sum(axis=0).tolist() == [1] * 20  # one pixel per column in the middle
    assert 17 <= np.flatnonzero(skeleton[:, 30])[0] <= 21  # and centred


def test_skeleton_keeps_a_ring_closed():
    img = Image.new("1", (60, 60))
    ImageDraw.Draw(img).ellipse((10, 10, 50, 50), outline=1, width=7)
    skeleton = skeletonize(np.asarray(img)[None])[0]
    paths = trace_paths(skeleton)
    assert len(paths) == 1
    start, end = paths[0][0], paths[0][-1]
    assert np.abs(start - end).max() <= 1  # the loop is joined back to its start


def test_tracing_a_t_gives_a_bar_and_a_joined_stem():
    t = np.zeros((40, 40), bool)
    t[5, 5:35] = True  # bar
    t[6:35, 20] = True  # stem
    paths = trace_paths(t)
    assert len(paths) == 2
    assert sum(len(p) for p in paths) >= t.sum()  # every pixel drawn (joins add one)
    stem = next(p for p in paths if (p == (34, 20)).all(axis=1).any())
    assert tuple(stem[0]) == (5, 20) or tuple(stem[-1]) == (5, 20)  # attached to the bar


def test_stroke_width_estimate():
    thin = np.zeros((1, 28, 28), np.uint8)
    thin[0, 5:23, 14] = 255
    bold = np.zeros((1, 28, 28), np.uint8)
    bold[0, 5:23, 11:18] = 255
    assert stroke_width(thin)[0] == pytest.approx(2.0)
    assert 5 < stroke_width(bold)[0] < 8  # 7 px wide; the short ends pull the estimate down


# -- the generated set ------------------------------------------------------------------------


def test_same_seed_same_drawings_other_seed_others(drawn):
    images, labels = shapes()
    again = make_drawn_digits(60, 3, images, labels)
    for a, b in zip(drawn, again):
        np.testing.assert_array_equal(a, b)
    other = make_drawn_digits(60, 4, images, labels)
    assert not np.array_equal(drawn.canvases, other.canvases)


def test_iterator_yields_the_same_drawings(drawn):
    images, labels = shapes()
    for i, d in enumerate(iter_drawn_digits(60, 3, images, labels, chunk=7)):
        np.testing.assert_array_equal(d.canvas, drawn.canvases[i])
        assert (d.label, d.brush, d.height, d.source) == (
            drawn.labels[i], drawn.brush[i], drawn.height[i], drawn.source[i])


def test_pen_strokes_are_the_drawings_before_rendering(drawn):
    """What the browser test replays with the mouse is what the canvases were drawn from."""
    images, labels = shapes()
    for i, (events, label, brush, height, source) in enumerate(iter_pen_strokes(60, 3, images, labels)):
        assert (label, brush, height, source) == (drawn.labels[i], drawn.brush[i], drawn.height[i], drawn.source[i])
        assert all(s.ndim == 2 and s.shape[1] == 2 and len(s) >= 2 for s in events)
        assert all((s >= 0).all() and (s <= CANVAS_SIDE).all() for s in events)  # (x, y) on the canvas
        if i < 10:
            np.testing.assert_array_equal(render_pen_strokes(events, brush), drawn.canvases[i])


def test_labels_are_balanced_and_match_their_sources(drawn):
    images, labels = shapes()
    assert np.bincount(drawn.labels, minlength=10).tolist() == [6] * 10
    np.testing.assert_array_equal(drawn.labels, labels[drawn.source])
    odd = make_drawn_digits(23, 0, images, labels)
    assert sorted(np.bincount(odd.labels, minlength=10)) == [2] * 7 + [3] * 3


def test_canvases_hold_white_ink_fully_inside(drawn):
    c = drawn.canvases
    assert c.shape == (60, CANVAS_SIDE, CANVAS_SIDE) and c.dtype == np.uint8
    assert np.all(c.max(axis=(1, 2)) == 255)
    frame = np.concatenate([c[:, 0], c[:, -1], c[:, :, 0], c[:, :, -1]], axis=1)
    assert frame.max() == 0  # nothing touches the edge: the whole digit is on the canvas
    assert np.all((c > 0).mean(axis=(1, 2)) < 0.5)  # strokes, not a filled canvas


def test_brush_widths_sizes_and_positions_vary(drawn):
    assert drawn.brush.min() >= BRUSH_RANGE[0] and drawn.brush.max() <= BRUSH_RANGE[1]
    assert np.ptp(drawn.brush) >= 12
    assert drawn.height.min() >= HEIGHT_RANGE[0] - 1 and drawn.height.max() <= HEIGHT_RANGE[1] + 1
    assert np.ptp(drawn.height) >= 100
    rows = np.array([np.flatnonzero(c.max(axis=1)) for c in drawn.canvases], dtype=object)
    ink_heights = np.array([r[-1] - r[0] + 1 for r in rows])
    # The recorded height is the ink's height on the canvas (pen width included).
    assert np.all(np.abs(ink_heights - drawn.height) <= 3)
    tops = np.array([r[0] for r in rows])
    assert tops.min() < 30 and tops.max() > 120  # near the top edge and far down


def test_strokes_have_the_pen_width(drawn):
    """A pen of width w leaves strokes about w wide: check through the thinnest pens' ink."""
    for c, w in zip(drawn.canvases, drawn.brush):
        ink = c >= 128
        # Distance across a stroke: the longest run of ink along a row or column is at
        # least the pen width (a disc of diameter w always fits).
        run = max(_longest_run(ink), _longest_run(ink.T))
        assert run >= w - 2


def _longest_run(mask):
    best = 0
    for row in mask[mask.any(axis=1)]:
        edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
        best = max(best, int((edges[1::2] - edges[::2]).max()))
    return best


def test_bad_arguments_are_named():
    images, labels = shapes()
    with pytest.raises(ValueError, match="n must be a positive integer"):
        make_drawn_digits(0, 0, images, labels)
    with pytest.raises(ValueError, match="source_images must be uint8"):
        make_drawn_digits(5, 0, images.astype(np.float32), labels)


# -- the whole pipeline on real drawings ------------------------------------------------------


@pytest.mark.slow
def test_shipped_model_reads_drawn_digits_well(mnist):
    """models/default.npz scores ~95% on 2,000 drawings; 300 of them must stay well above 85%.

    Chance is 10%; a pipeline with a broken step (colours, scaling, centring) falls far below.
    """
    from drawn import drawn_inputs, score_drawn
    from mlp import load_model

    inputs = drawn_inputs(300, 0, dataset=mnist)
    assert np.all(inputs.x.max(axis=1) == 1.0)  # preprocess found ink in every canvas
    result = score_drawn(load_model(MODEL), inputs)
    assert result["accuracy"] > 0.85, result
    assert sum(v["n"] for v in result["by_brush"].values()) == 300
    assert sum(v["n"] for v in result["by_height"].values()) == 300
    assert len(result["per_class_accuracy"]) == 10
