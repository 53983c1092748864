"""Drawing preprocessing: canvas image -> the 28x28 MNIST-style input the network expects."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mlp.preprocess import MAX_PIXELS, load_image, preprocess, to_model_input


def seven(size=200, offset=(40, 40), width=None, canvas=280):
    """A white '7' (bar and diagonal) of the given height on a black square canvas, as uint8."""
    img = Image.new("L", (canvas, canvas), 0)
    d = ImageDraw.Draw(img)
    x0, y0 = offset
    w = width or max(3, size // 9)
    d.line([(x0, y0), (x0 + 0.75 * size, y0), (x0 + 0.3 * size, y0 + size)], fill=255, width=w, joint="curve")
    return np.asarray(img)


def one(height=200, offset=(130, 40)):
    img = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(img).line([(offset[0], offset[1]), (offset[0], offset[1] + height)], fill=255, width=18)
    return np.asarray(img)


def naive(image):
    """What typical digit apps do: shrink the whole canvas to 28x28."""
    return np.asarray(Image.fromarray(image).resize((28, 28), Image.Resampling.BOX), dtype=np.float32) / 255


def centre_of_mass(x):
    rows, cols = np.indices(x.shape)
    return (rows * x).sum() / x.sum(), (cols * x).sum() / x.sum()


def test_small_in_a_corner_and_large_in_the_middle_give_nearly_the_same_input():
    small = preprocess(seven(size=60, offset=(4, 4), width=7))
    large = preprocess(seven(size=200, offset=(40, 40), width=22))
    assert np.abs(small - large).mean() < 0.06
    assert np.corrcoef(small.ravel(), large.ravel())[0, 1] > 0.9
    # Shrinking the whole canvas, as naive apps do, gives two very different inputs.
    a, b = naive(seven(size=60, offset=(4, 4), width=7)), naive(seven(size=200, offset=(40, 40), width=22))
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] < 0.3


def test_output_is_mnist_shaped():
    x = preprocess(seven())
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() == pytest.approx(1.0)
    rows, cols = np.nonzero(x > 0.05)
    assert max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) in (19, 20, 21)
    r, c = centre_of_mass(x)
    assert abs(r - 14) <= 0.75 and abs(c - 14) <= 0.75
    assert to_model_input(x).shape == (1, 784)


def test_a_one_keeps_its_aspect_ratio():
    x = preprocess(one())
    rows, cols = np.nonzero(x > 0.05)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert height >= 19 and width <= 6  # not stretched into a 20x20 blob


def test_polarity_and_transparency_do_not_matter():
    light_on_dark = preprocess(seven())
    dark_on_light = preprocess(255 - seven())
    assert np.allclose(light_on_dark, dark_on_light, atol=1e-5)
    ink = seven()
    transparent = np.zeros((280, 280, 4), np.uint8)
    transparent[..., :3] = 255
    transparent[..., 3] = ink  # white strokes on a fully transparent background
    black_bg = np.dstack([ink, ink, ink, np.full_like(ink, 255)])
    assert np.allclose(preprocess(transparent), preprocess(black_bg), atol=1e-2)
    assert np.allclose(preprocess(black_bg), light_on_dark, atol=1e-2)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "I;16", "1", "F"])
def test_pil_modes(mode):
    img = Image.fromarray(seven())
    if mode == "I;16":
        img = Image.fromarray((seven().astype(np.uint16) * 257))
    elif mode == "F":
        img = Image.fromarray(seven().astype(np.float32) / 255, mode="F")
    else:
        img = img.convert(mode)
    x = preprocess(img)
    assert np.corrcoef(x.ravel(), preprocess(seven()).ravel())[0, 1] > 0.95


def test_array_shapes_and_float_input():
    base = preprocess(seven())
    assert np.allclose(preprocess(seven()[..., None]), base)
    assert np.allclose(preprocess(seven().astype(np.float32) / 255), base, atol=1e-5)


@pytest.mark.parametrize("image", [
    np.zeros((280, 280, 4), np.uint8),                           # the empty canvas (transparent)
    np.dstack([np.zeros((280, 280, 3), np.uint8), np.full((280, 280), 255, np.uint8)]),  # black
    np.full((280, 280, 3), 255, np.uint8),                       # blank white paper
])
def test_empty_images_are_reported_as_empty(image):
    assert preprocess(image) is None


def test_digit_touching_the_edge():
    x = preprocess(seven(size=120, offset=(0, 160)))
    assert x is not None and x.max() == pytest.approx(1.0)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((0, 10), np.uint8), "empty|zero"),
    (np.zeros((2, 2, 2, 2, 2), np.uint8), "dimension|shape"),
    (np.array([["a", "b"], ["c", "d"]]), "dtype"),
])
def test_bad_arrays_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        preprocess(bad)


def test_too_many_pixels_are_refused_before_work():
    side = int(np.sqrt(MAX_PIXELS)) + 10
    with pytest.raises(ValueError, match="pixels"):
        preprocess(np.zeros((side, side), np.uint8))


def test_load_image_names_the_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    with pytest.raises(ValueError, match="notes.png"):
        load_image(path)


def test_real_mnist_digits_survive_the_round_trip(mnist):
    """MNIST was made by this very procedure: enlarge a test digit 10x and it comes back close."""
    scores = []
    for image in mnist.x_test[:50]:
        big = np.asarray(Image.fromarray(image).resize((280, 280), Image.Resampling.BILINEAR))
        back = preprocess(big)
        scores.append(np.corrcoef(back.ravel(), image.ravel().astype(np.float32))[0, 1])
    assert np.median(scores) > 0.9
