"""Drawings that are no digit: fonts and splits, letters marked as digit-like, determinism, kinds, errors."""

from pathlib import Path

import numpy as np
import pytest

import drawn.negatives as negatives
from drawn import (
    DIGIT_LIKE_LETTERS,
    FONTS,
    SHAPES,
    glyph_image,
    iter_negatives,
    letter_canvases,
    negative_images,
)
from drawn.negatives import LETTERS, Font
from drawn.styles import to_uint8
from mlp.preprocess import preprocess

NOWHERE = Font("train", "/nonexistent/Nowhere.ttf", "/nonexistent/Nowhere.ttf")


def test_train_and_eval_fonts_are_disjoint_families():
    train = [f for f in FONTS if f.split == "train"]
    evals = [f for f in FONTS if f.split == "eval"]
    assert len(train) >= 6 and len(evals) >= 6
    assert not {Path(f.path).parent for f in train} & {Path(f.path).parent for f in evals}  # a folder per family
    assert not {Path(f.source).parent for f in train} & {Path(f.source).parent for f in evals}


def test_the_fonts_ship_with_the_code_each_beside_its_license():
    fonts_dir = Path(negatives.__file__).parent / "fonts"
    for font in FONTS:
        path = Path(font.path)
        assert path.is_file() and path.parent.parent == fonts_dir
        assert (path.parent / "copyright").is_file()
        assert path.stat().st_size < 25_000  # A-Z only


def test_every_font_draws_every_capital_and_each_its_own():
    for font in FONTS:
        glyphs = np.stack([glyph_image(font.path, c) for c in LETTERS])  # a missing glyph draws nothing: ValueError
        assert len(np.unique(glyphs.reshape(len(LETTERS), -1), axis=0)) == len(LETTERS), font.path


@pytest.mark.parametrize("font", FONTS, ids=[Path(f.path).name for f in FONTS])
def test_a_font_draws_its_letters_as_the_full_font_it_was_cut_from(font):
    """Pixel for pixel, where the Debian package the font was cut from is installed."""
    if not Path(font.source).is_file():
        pytest.skip(f"{font.source} is not installed")
    for c in LETTERS:
        np.testing.assert_array_equal(
            np.asarray(negatives._draw_glyph(font.path, c)), np.asarray(negatives._draw_glyph(font.source, c)),
            err_msg=f"{font.path} draws {c!r} unlike {font.source}")


def test_digit_like_letters_are_marked():
    assert DIGIT_LIKE_LETTERS == set("OISZBGQ") and DIGIT_LIKE_LETTERS < set(LETTERS)


def test_a_glyph_is_mnist_like():
    for font in FONTS:
        img = glyph_image(font.path, "T")
        assert img.shape == (28, 28) and img.dtype == np.uint8 and img.max() == 255
        rows, cols = np.flatnonzero(img.max(axis=1) > 25), np.flatnonzero(img.max(axis=0) > 25)
        assert 19 <= max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21  # fitted in a 20x20 box
        ys, xs = np.mgrid[:28, :28]
        w = img.astype(float)
        assert abs((w * ys).sum() / w.sum() - 14) < 1 and abs((w * xs).sum() / w.sum() - 14) < 1  # centred by mass


def test_same_seed_same_negatives_other_seed_others():
    a = negative_images(30, 0)
    b = negative_images(30, 0)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], negative_images(30, 1)[0])


def test_images_kinds_and_chars():
    images, kinds, chars = negative_images(30, 2, split="eval")
    assert images.shape == (30, 28, 28) and images.dtype == np.uint8 and np.all(images.max(axis=(1, 2)) == 255)
    assert sorted(kinds.tolist()) == ["letters"] * 10 + ["scribbles"] * 10 + ["shapes"] * 10
    assert set(chars[kinds == "letters"]) <= set(LETTERS)
    assert set(chars[kinds == "shapes"]) <= set(SHAPES) and set(chars[kinds == "scribbles"]) == {"scribble"}
    for i, d in enumerate(iter_negatives(30, 2, split="eval")):
        np.testing.assert_array_equal(images[i], to_uint8(preprocess(d.canvas)))
        assert (kinds[i], chars[i]) == (d.kind, d.char)
        assert (d.font in {f.path for f in FONTS if f.split == "eval"}) == (d.kind == "letters")
        assert 8 <= d.brush <= 30 and d.canvas.shape == (280, 280)


def test_letters_spread_over_letters_and_fonts_and_train_leaves_digit_like_ones_out():
    train = list(iter_negatives(2 * 19 * 10, 0, split="train", kinds=("letters",)))
    chars = [d.char for d in train]
    assert set(chars) == set(LETTERS) - DIGIT_LIKE_LETTERS
    assert sorted(np.unique(chars, return_counts=True)[1].tolist()) == [20] * 19
    assert {d.font for d in train} == {f.path for f in FONTS if f.split == "train"}
    evals = [(d.char, d.font) for d in iter_negatives(26 * 3, 0, split="eval", kinds="letters")]
    assert {c for c, _ in evals} == set(LETTERS)  # kept, so they can be reported apart
    assert all(len({f for c, f in evals if c == letter}) == 3 for letter in LETTERS)  # 3 fonts each
    canvases, chars = letter_canvases(6, 0, letters="TX")
    assert canvases.shape == (6, 280, 280) and canvases.dtype == np.uint8 and sorted(chars) == list("TTTXXX")


def test_a_drawn_t_has_a_bar_over_a_stem():
    canvases, _ = letter_canvases(8, 1, letters="T")
    for c in canvases:
        rows, cols = np.flatnonzero(c.max(axis=1)), np.flatnonzero(c.max(axis=0))
        height, width = rows[-1] - rows[0], cols[-1] - cols[0]
        top = c[rows[0]:rows[0] + height // 5] >= 128
        low = c[rows[-1] - height // 3:rows[-1]] >= 128
        assert np.ptp(np.flatnonzero(top.any(axis=0))) > 0.6 * width  # the bar is wide
        assert np.ptp(np.flatnonzero(low.any(axis=0))) < 0.6 * width  # the stem is not


def test_shapes_and_scribbles_need_no_fonts(monkeypatch):
    monkeypatch.setattr(negatives, "FONTS", (NOWHERE,))
    images, kinds, _ = negative_images(8, 0, kinds=("scribbles", "shapes"))
    assert images.shape == (8, 28, 28) and set(kinds) == {"scribbles", "shapes"}


def test_a_missing_font_is_named(monkeypatch):
    monkeypatch.setattr(negatives, "FONTS", (NOWHERE,))
    with pytest.raises(FileNotFoundError, match=r"font /nonexistent/Nowhere.ttf is missing"):
        negative_images(3, 0)
    with pytest.raises(FileNotFoundError, match=r"/nonexistent/Nowhere.ttf is missing"):
        glyph_image("/nonexistent/Nowhere.ttf", "A")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be a positive integer"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"split": "test"}, "split must be one of"),
        ({"kinds": ("letters", "dogs")}, "kinds must be distinct names"),
        ({"kinds": ()}, "kinds must be distinct names"),
        ({"kinds": ("shapes", "shapes")}, "kinds must be distinct names"),
        ({"letters": "a1"}, "letters must be capitals A-Z"),
        ({"letters": ""}, "letters must be capitals A-Z"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    args = {"n": 5, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        negative_images(args.pop("n"), args.pop("seed"), **args)
