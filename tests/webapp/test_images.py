"""webapp.images: the pictures the pages show, as exact pixels."""

import numpy as np
import pytest

from webapp import images


@pytest.mark.parametrize("shape", [(28, 28), (12, 20, 3), (96, 96, 4)])
def test_png_data_url_holds_the_exact_pixels(shape):
    import base64
    import io

    from PIL import Image

    pixels = np.random.default_rng(2).integers(0, 256, size=shape, dtype=np.uint8)
    url = images.png_data_url(pixels)
    assert url.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert np.array_equal(decoded, pixels)


def test_enlarge_repeats_each_pixel_with_a_faint_grid():
    x = np.linspace(0, 1, 28 * 28).reshape(28, 28)
    big = images.enlarge(x, scale=4)
    assert big.shape == (112, 112) and big.dtype == np.uint8
    assert big[1, 1] == big[3, 3] == int(x[0, 0] * 255)  # inside a block: the pixel itself
    assert big[0, 2] == max(int(x[0, 0] * 255), 40)  # the grid line: at least faint grey
    assert np.array_equal(images.enlarge(x, scale=4, grid=False)[1::4, 1::4], (x * 255).astype(np.uint8))


def test_weight_grid_is_rgba_with_transparent_gaps():
    w = np.random.default_rng(1).normal(size=(784, 20))
    scale, pad, columns = 2, 3, 8
    grid = images.weight_grid(w, range(20), columns=columns, scale=scale, pad=pad)
    tile = 28 * scale
    assert grid.dtype == np.uint8
    assert grid.shape == (3 * (tile + pad) + pad, columns * (tile + pad) + pad, 4)
    alpha = grid[..., 3]
    assert (alpha[:pad] == 0).all() and (alpha[:, :pad] == 0).all()  # the outer gaps
    assert (alpha[pad + tile:2 * pad + tile] == 0).all()  # between the first two rows
    assert (alpha[pad:pad + tile, pad:pad + tile] == 255).all()  # the first tile is opaque
    last_row = slice(pad + 2 * (tile + pad), pad + 2 * (tile + pad) + tile)
    assert (alpha[last_row, pad + 4 * (tile + pad):] == 0).all()  # no tile after unit 19
    assert (alpha == 255).sum() == 20 * tile * tile


def test_weight_thumbnail_is_a_small_png_of_the_first_units():
    import base64
    import io

    from PIL import Image

    w = np.random.default_rng(3).normal(size=(784, 300)).astype(np.float32)
    w[0, 0], w[1, 1] = np.nan, np.inf  # drawn as 0, never an error
    url = images.weight_thumbnail(w)
    assert url.startswith("data:image/png;base64,") and len(url) < 8000  # a few KB in a summary row
    picture = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert picture.mode == "P" and picture.size == (4 * 29 + 1, 2 * 29 + 1)  # 8 tiles of 28 px, 1 px apart
    few = Image.open(io.BytesIO(base64.b64decode(images.weight_thumbnail(w[:, :3]).split(",", 1)[1])))
    assert few.size == (4 * 29 + 1, 29 + 1)
