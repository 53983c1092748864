"""Handwriting styles, writers and the pen-digit set: the table, determinism, balance, each style's mark, errors."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from drawn import (
    PEN_MIX,
    STYLES,
    Writer,
    iter_styled_digits,
    iter_writer_digits,
    make_writer,
    pen_digit_inputs,
    score_styles,
    styled_images,
    writer_images,
)
from drawn.generate import Hand
from drawn.styles import styles_of, to_uint8
from mlp.preprocess import preprocess

MODEL = Path(__file__).resolve().parents[2] / "models" / "default.npz"


# -- the table --------------------------------------------------------------------------------


def test_every_style_is_named_for_one_digit_and_described_in_one_line():
    assert STYLES["plain"].digit is None
    for name, style in STYLES.items():
        assert style.name == name and style.description and "\n" not in style.description
        assert name == "plain" or style.digit in range(10)
    for digit in range(10):
        assert styles_of(digit)[0] == "plain"
    for name in ("zero_slashed", "zero_dotted", "one_flag", "one_serif", "seven_crossbar", "four_open",
                 "four_closed", "nine_straight", "two_loop", "three_flat_top"):
        assert name in STYLES


def test_pen_mix_is_a_distribution_over_each_digits_styles():
    assert sorted(PEN_MIX) == list(range(10))
    for digit, weights in PEN_MIX.items():
        assert sum(weights.values()) == pytest.approx(1.0)
        assert set(weights) <= set(styles_of(digit))
    assert 0.3 <= 1 - PEN_MIX[0]["plain"] <= 0.4 and 0.3 <= 1 - PEN_MIX[1]["plain"] <= 0.4


# -- styled drawings --------------------------------------------------------------------------


def test_same_seed_same_drawings_other_seed_others(mnist):
    a = list(iter_styled_digits(24, 1, mnist.x_test, mnist.y_test))
    b = list(iter_styled_digits(24, 1, mnist.x_test, mnist.y_test))
    c = list(iter_styled_digits(24, 2, mnist.x_test, mnist.y_test))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.canvas, y.canvas)
        assert x[1:] == y[1:]
    assert any(not np.array_equal(x.canvas, y.canvas) for x, y in zip(a, c))


def test_styled_images_are_the_drawings_preprocessed_like_draw(mnist):
    images, labels, styles = styled_images(20, 3, mnist.x_test, mnist.y_test)
    assert images.shape == (20, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (20,) and styles.shape == (20,) and styles.dtype.kind == "U"
    for i, d in enumerate(iter_styled_digits(20, 3, mnist.x_test, mnist.y_test)):
        np.testing.assert_array_equal(images[i], np.round(preprocess(d.canvas) * 255).astype(np.uint8))
        assert (labels[i], styles[i]) == (d.label, d.style)
        assert d.source == -1 if STYLES[d.style].template else mnist.y_test[d.source] == d.label
        assert d.writer == -1 and 8 <= d.brush <= 30
    assert images.max() == 255
    assert to_uint8(None).sum() == 0


def test_balanced_over_digits_and_plain_takes_half_of_a_digits_drawings(mnist):
    items = [(d.label, d.style) for d in iter_styled_digits(200, 0, mnist.x_test, mnist.y_test)]
    labels = np.array([label for label, _ in items])
    assert np.bincount(labels, minlength=10).tolist() == [20] * 10
    zeros = [s for label, s in items if label == 0]
    assert sorted(zeros) == sorted(["plain"] * 10 + ["zero_slashed"] * 5 + ["zero_dotted"] * 5)
    assert {s for label, s in items if label == 6} == {"plain"}
    assert sum(s == "plain" for _, s in items) == 20 + 9 * 10  # all of 6 (no other style), half of the rest


def test_styles_and_mix_choose_what_is_drawn(mnist):
    only = [(d.label, d.style) for d in iter_styled_digits(
        10, 0, mnist.x_test, mnist.y_test, styles=["zero_slashed", "seven_crossbar"])]
    assert sorted(only) == [(0, "zero_slashed")] * 5 + [(7, "seven_crossbar")] * 5
    mixed = [d.style for d in iter_styled_digits(
        12, 0, mnist.x_test, mnist.y_test, mix={1: {"plain": 1, "one_flag": 2}})]
    assert sorted(mixed) == ["one_flag"] * 8 + ["plain"] * 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"styles": ["zero_crossed"]}, "unknown style 'zero_crossed'"),
        ({"styles": "zero_slashed"}, "styles must be a non-empty list"),
        ({"styles": []}, "styles must be a non-empty list"),
        ({"mix": {0: {"one_flag": 1}}}, "style 'one_flag' is for digit 1, not 0"),
        ({"mix": {0: {"plain": -1}}}, "weights must be finite numbers >= 0"),
        ({"mix": {0: {"plain": 0}}}, "no digit has a style"),
        ({"styles": ["plain"], "mix": {0: {"plain": 1}}}, "give styles or mix, not both"),
    ],
)
def test_bad_style_arguments_are_named(mnist, kwargs, message):
    with pytest.raises(ValueError, match=message):
        next(iter_styled_digits(10, 0, mnist.x_test, mnist.y_test, **kwargs))


def test_bad_counts_and_sources_are_named(mnist):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        styled_images(0, 0, mnist.x_test, mnist.y_test)
    with pytest.raises(ValueError, match="source_images must be uint8"):
        styled_images(5, 0, mnist.x_test.astype(np.float32), mnist.y_test)
    ones = mnist.y_test == 1
    with pytest.raises(ValueError, match="source_labels have no digit 0"):
        styled_images(5, 0, mnist.x_test[ones], mnist.y_test[ones], styles=["zero_slashed"])


# -- each style leaves its mark: the same writer and sources, plain against styled ------------


def _steady_writer(digit, style, seed=5):
    """A writer with an upright, thin, large and steady hand, writing `digit` in `style`."""
    w = make_writer(seed)
    styles = list(w.styles)
    styles[digit] = style
    params = list(w.params)
    params[digit] = STYLES[style].params(np.random.default_rng(seed))
    return dataclasses.replace(w, styles=tuple(styles), params=tuple(params), hand=Hand(0.0, 0.0, 1.0),
                               brush=10, height=220.0, wobble=0.005)


def _drawings(writer, digit, mnist, per_digit=4):
    return [d for d in iter_writer_digits(writer, per_digit, 0, mnist.x_test, mnist.y_test) if d.label == digit]


def _box(canvas):
    rows, cols = np.flatnonzero(canvas.max(axis=1)), np.flatnonzero(canvas.max(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def _ink_along(canvas, a, b, k=40):
    """Share of k points on the segment a -> b ((x, y) fractions of the ink box) that fall on ink."""
    top, bottom, left, right = _box(canvas)
    t = np.linspace(0, 1, k)[:, None]
    xy = np.asarray(a) + (np.asarray(b) - np.asarray(a)) * t
    cols = np.round(left + xy[:, 0] * (right - left)).astype(int)
    rows = np.round(top + xy[:, 1] * (bottom - top)).astype(int)
    return float((canvas[rows, cols] >= 128).mean())


def _runs(row):
    """Number of separate runs of ink along a row of pixels."""
    return int(np.count_nonzero(np.diff(np.concatenate([[0], (row >= 128).astype(np.int8), [0]])) == 1))


def test_a_slashed_zero_has_ink_across_its_hole_the_plain_zero_lacks(mnist):
    for plain, slashed in zip(_drawings(_steady_writer(0, "plain"), 0, mnist),
                              _drawings(_steady_writer(0, "zero_slashed"), 0, mnist)):
        assert plain.source == slashed.source
        bands = []
        for canvas in (plain.canvas, slashed.canvas):
            top, bottom, _, _ = _box(canvas)
            bands.append(canvas[(top + bottom) // 2 - 10:(top + bottom) // 2 + 11])
        # On every middle row the slash adds one run of ink between the ring's sides.
        plain_runs = {_runs(row) for row in bands[0]}
        assert len(plain_runs) == 1 and [_runs(row) for row in bands[1]] == [plain_runs.pop() + 1] * 21
        if all(_runs(row) == 3 for row in bands[1]):
            # From upper right to lower left: across the middle rows the slash moves left going down.
            assert _middle_run(bands[1][0]) > _middle_run(bands[1][-1]) + 5


def _middle_run(row):
    """Centre column of the second of three runs of ink."""
    starts = np.flatnonzero(np.diff(np.concatenate([[0], (row >= 128).astype(np.int8), [0]])) != 0)
    return (starts[2] + starts[3]) / 2


def test_a_dotted_zero_has_ink_in_its_centre(mnist):
    for plain, dotted in zip(_drawings(_steady_writer(0, "plain"), 0, mnist),
                             _drawings(_steady_writer(0, "zero_dotted"), 0, mnist)):
        assert _ink_along(dotted.canvas, (0.47, 0.47), (0.53, 0.53), k=5) > 0
        assert _ink_along(plain.canvas, (0.45, 0.45), (0.55, 0.55), k=5) == 0


def test_a_flagged_one_is_wider_at_the_top_and_a_serifed_one_also_at_the_foot(mnist):
    def widths(canvas):
        top, bottom, _, _ = _box(canvas)
        h = bottom - top
        band = lambda a, b: np.flatnonzero(canvas[top + int(a * h):top + int(b * h)].max(axis=0) >= 128)  # noqa: E731
        return np.ptp(band(0, 0.3)) / h, np.ptp(band(0.9, 1.0)) / h

    plain = [widths(d.canvas) for d in _drawings(_steady_writer(1, "plain"), 1, mnist)]
    flag = [widths(d.canvas) for d in _drawings(_steady_writer(1, "one_flag"), 1, mnist)]
    serif = [widths(d.canvas) for d in _drawings(_steady_writer(1, "one_serif"), 1, mnist)]
    for p, f, s in zip(plain, flag, serif):
        assert f[0] > p[0] + 0.08 and s[0] > p[0] + 0.08
        assert s[1] > p[1] + 0.15


def test_a_crossed_seven_has_a_bar_across_its_middle(mnist):
    def middle_run(canvas):
        top, bottom, left, right = _box(canvas)
        rows = canvas[top + int(0.4 * (bottom - top)):top + int(0.7 * (bottom - top))] >= 128
        return max(np.ptp(np.flatnonzero(r)) for r in rows if r.any()) / (right - left)

    for plain, crossed in zip(_drawings(_steady_writer(7, "plain"), 7, mnist),
                              _drawings(_steady_writer(7, "seven_crossbar"), 7, mnist)):
        assert middle_run(crossed.canvas) > middle_run(plain.canvas) + 0.2


def _holes(canvas):
    """Background pixels not reachable from the canvas's edge (the inside of closed loops)."""
    img = Image.fromarray(np.where(canvas >= 128, 255, 0).astype(np.uint8)).copy()
    ImageDraw.floodfill(img, (0, 0), 255)
    return int((np.asarray(img) == 0).sum())


@pytest.mark.parametrize(("digit", "closed", "open_"), [(4, "four_closed", "four_open"), (9, "nine_straight", None),
                                                        (2, "two_loop", None), (8, "eight_two_loops", None)])
def test_templates_close_their_loops(mnist, digit, closed, open_):
    for d in _drawings(_steady_writer(digit, closed), digit, mnist):
        assert d.source == -1 and _holes(d.canvas) > 100
    if open_:
        assert all(_holes(d.canvas) == 0 for d in _drawings(_steady_writer(digit, open_), digit, mnist))


# -- writers ----------------------------------------------------------------------------------


def test_a_writer_keeps_styles_pen_and_sources_across_drawings(mnist):
    w = make_writer(11)
    assert w == make_writer(11) and w != make_writer(12)
    assert isinstance(w, Writer) and len(w.styles) == 10 and "writer 11" in w.describe()
    first = list(iter_writer_digits(w, 3, 0, mnist.x_test, mnist.y_test))
    again = list(iter_writer_digits(w, 3, 1, mnist.x_test, mnist.y_test))
    assert [d.label for d in first] == list(range(10)) * 3
    assert {d.brush for d in first + again} == {w.brush}
    assert all(d.style == w.styles[d.label] and d.writer == 11 for d in first)
    # Another seed redraws the same shapes, differently.
    assert [d.source for d in first] == [d.source for d in again]
    assert not np.array_equal(first[0].canvas, again[0].canvas)
    images, labels = writer_images(w, 3, 0, mnist.x_test, mnist.y_test)
    assert images.shape == (30, 28, 28) and images.dtype == np.uint8 and labels.tolist() == list(range(10)) * 3
    np.testing.assert_array_equal(images[4], to_uint8(preprocess(first[4].canvas)))


def test_writers_span_easy_and_hard_hands():
    writers = [make_writer(s) for s in range(200)]
    slants = np.array([w.hand.slant for w in writers])
    assert slants.min() < -0.3 and slants.max() > 0.2 and np.abs(slants).max() <= 0.5
    assert len({w.brush for w in writers}) > 15
    zero_styles = [w.styles[0] for w in writers]
    assert 0.25 < np.mean([s != "plain" for s in zero_styles]) < 0.5


def test_bad_writer_arguments_are_named(mnist):
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        make_writer(-1)
    with pytest.raises(ValueError, match="writer must be a Writer"):
        next(iter_writer_digits("me", 1, 0, mnist.x_test, mnist.y_test))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        writer_images(make_writer(0), 0, 0, mnist.x_test, mnist.y_test)


# -- the held-out pen-digit set ---------------------------------------------------------------


def test_pen_digit_set_and_its_score(mnist):
    from mlp import load_model

    inputs = pen_digit_inputs(120, 0, dataset=mnist)
    assert inputs.x.shape == (120, 784) and inputs.x.dtype == np.float32
    assert np.all(inputs.x.max(axis=1) == 1.0)  # preprocess found ink in every canvas
    assert len(np.unique(inputs.writers)) == 3 and np.bincount(inputs.labels).tolist() == [12] * 10
    result = score_styles(load_model(MODEL), inputs)
    assert result["accuracy"] > 0.8, result  # chance is 10%: a broken pipeline falls far below
    assert sum(v["n"] for v in result["per_style"].values()) == 120
    assert result["per_writer"]["writers"] == 3 and len(result["per_writer"]["worst"]) == 3
    assert result["per_writer"]["worst"][0]["accuracy"] <= result["per_writer"]["median"]
    wrong = round(120 * (1 - result["accuracy"]))
    assert sum(n for _, _, n in result["confusions"]) <= wrong and all(t != r for t, r, _ in result["confusions"])
    assert result["ones_read_as_7"] <= wrong and result["sevens_read_as_1"] <= wrong
    with pytest.raises(ValueError, match="n must be a positive integer"):
        pen_digit_inputs(0, dataset=mnist)


def test_the_commonest_mistakes_are_counted_as_true_digit_then_reading():
    from drawn.styles.pen_digits import StyledInputs

    labels = np.array([1, 1, 1, 1, 7, 7, 2, 2, 0, 0, 3, 4, 5, 6, 8, 9])
    read = np.array([7, 7, 7, 1, 1, 7, 1, 2, 0, 6, 3, 4, 5, 6, 8, 9])  # ones as 7 (3), a 7 as 1, a 2 as 1, a 0 as 6

    class Reader:
        def predict_proba(self, x):
            return np.eye(10, dtype=np.float32)[read]

    n = len(labels)
    inputs = StyledInputs(np.zeros((n, 784), np.float32), labels, np.array(["plain"] * n), np.zeros(n, np.int64),
                          np.full(n, 18), np.full(n, 200), n, 0)
    result = score_styles(Reader(), inputs, worst=3)
    assert result["confusions"] == [[1, 7, 3], [0, 6, 1], [2, 1, 1]]  # by count, then by (true digit, reading)
    assert result["ones_read_as_7"] == 3 and result["sevens_read_as_1"] == 1


@pytest.mark.slow
def test_the_shipped_model_reads_flagged_ones_as_ones_and_crossed_sevens_as_sevens(mnist):
    """The commonest mistake on real pen digits was a flagged 1 read as 7 (MNIST's ones are bare strokes, its
    sevens have the flag). Trained on the styles, the shipped model reads flagged ones as ones without giving up
    crossed sevens; a model trained on MNIST alone read 52.9% of flagged ones right (docs/real-handwriting.md).
    500 of each: with 100, one model's 5 flagged ones read as 7 and another's 7 are within the sample's noise."""
    from mlp import load_model

    model = load_model(MODEL)

    def read(style):
        x, y, _ = styled_images(500, 0, mnist.x_test, mnist.y_test, styles=[style])
        return model.predict(x.reshape(len(x), -1).astype(np.float32) / 255), y

    ones, y = read("one_flag")  # the shipped model: 93.2% as 1, 6.4% as 7 (the model before it: 91.8%, 7.8%)
    assert (y == 1).all() and (ones == 1).mean() >= 0.92 and (ones == 7).mean() <= 0.07, np.bincount(ones)
    sevens, y = read("seven_crossbar")  # 98.6% as 7, none as 1
    assert (y == 7).all() and (sevens == 7).mean() >= 0.97 and (sevens == 1).mean() <= 0.01, np.bincount(sevens)
