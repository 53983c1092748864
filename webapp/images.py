"""Pictures of arrays: enlarged 28x28 inputs and grids of first-layer weights. NumPy, and PIL for PNG."""

import base64
import io
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from PIL import Image

from mlp.arrays import Floats

CANVAS_MAX_SIDE = 1200  # the 280-pixel canvas at up to 4 times (a phone's screen draws it at its pixel ratio)
CANVAS_MAX_URL = 4 * 1024 * 1024  # characters of the drawing's data URL (a real one is tens of kilobytes)


def decode_canvas(data_url: object) -> NDArray[np.uint8]:
    """The canvas's drawing, a PNG data URL, as an (h, w, 4) uint8 array; ValueError for anything else.

    The browser sends this, so it is checked before it is decoded: its length, its kind, and the
    picture's size from the PNG header (a few hundred bytes of PNG can declare 13000x13000 pixels,
    which would take 676 MB decoded).
    """
    prefix = "data:image/png;base64,"
    if not isinstance(data_url, str) or not data_url.startswith(prefix) or len(data_url) > CANVAS_MAX_URL:
        raise ValueError("the drawing is not a PNG data URL of a canvas")
    try:
        img = Image.open(io.BytesIO(base64.b64decode(data_url[len(prefix):], validate=True)), formats=["PNG"])
    except (ValueError, OSError, Image.DecompressionBombError) as e:
        raise ValueError(f"the drawing is not a readable PNG ({e})") from None
    if max(img.size) > CANVAS_MAX_SIDE or min(img.size) < 1:
        raise ValueError(f"the drawing is {img.size[0]}x{img.size[1]} pixels; a canvas is at most "
                         f"{CANVAS_MAX_SIDE} on a side")
    try:
        return np.asarray(img.convert("RGBA"))
    except (ValueError, OSError) as e:
        raise ValueError(f"the drawing is not a readable PNG ({e})") from None


def enlarge(image28: ArrayLike, scale: int = 10, grid: bool = True) -> NDArray[np.uint8]:
    """A (28, 28) float image in [0, 1] -> (28*scale, 28*scale) uint8 with visible pixels.

    Each pixel becomes a scale x scale block; a faint grid separates the blocks.
    """
    img = (np.clip(np.asarray(image28, dtype=np.float32), 0, 1) * 255).astype(np.uint8)
    out = img.repeat(scale, axis=0).repeat(scale, axis=1)  # (28*scale, 28*scale)
    if grid and scale >= 4:
        out[::scale, :] = np.maximum(out[::scale, :], 40)
        out[:, ::scale] = np.maximum(out[:, ::scale], 40)
    return out


def diverging_rgb(values: ArrayLike, limit: float | None = None) -> NDArray[np.uint8]:
    """Map values to RGB uint8 with a blue-white-red scale, symmetric around 0."""
    v = np.asarray(values, dtype=np.float32)
    limit = float(np.abs(v).max()) if limit is None else float(limit)
    t = np.clip(v / (limit or 1.0), -1, 1)[..., None]
    white = np.array([247, 247, 247], dtype=np.float32)
    red = np.array([178, 24, 43], dtype=np.float32)
    blue = np.array([33, 102, 172], dtype=np.float32)
    rgb = np.where(t > 0, white + t * (red - white), white + (-t) * (blue - white))
    return rgb.astype(np.uint8)


def weight_grid(w: Floats, units: Iterable[int], columns: int = 16, scale: int = 3,
                pad: int = 2) -> NDArray[np.uint8]:
    """First-layer weights W (784, n_hidden) -> one RGBA image of the chosen units' 28x28 tiles.

    Each tile uses its own symmetric colour limit, so weak and strong units are both visible.
    The gaps between tiles are transparent, so the grid sits on a light or a dark page alike.
    """
    units = list(units)
    rows = max(1, -(-len(units) // columns))
    tile = 28 * scale
    canvas = np.zeros((rows * (tile + pad) + pad, columns * (tile + pad) + pad, 4), dtype=np.uint8)
    for i, unit in enumerate(units):
        r, c = divmod(i, columns)
        img = w[:, unit].reshape(28, 28)
        rgb = np.kron(diverging_rgb(img), np.ones((scale, scale, 1), dtype=np.uint8))
        top, left = pad + r * (tile + pad), pad + c * (tile + pad)
        canvas[top:top + tile, left:left + tile, :3] = rgb
        canvas[top:top + tile, left:left + tile, 3] = 255
    return canvas


THUMBNAIL_UNITS, THUMBNAIL_COLUMNS = 8, 4  # a gallery card's picture: the first 8 units, 4 to a row
THUMBNAIL_COLOURS = 16  # a palette this small keeps the picture near 4 KB as a data URL


def weight_thumbnail(w: ArrayLike, units: int = THUMBNAIL_UNITS, columns: int = THUMBNAIL_COLUMNS) -> str:
    """A small picture of a model's first-layer weights W (784, n_hidden): its first `units` units as 28x28
    tiles, one pixel per weight, as a palette PNG data URL of about 4 KB (the browser enlarges it).

    Made once, when a model is shared (webapp.store.summary), so that the gallery never loads a model file.
    Non-finite weights are drawn as 0.
    """
    w = np.nan_to_num(np.asarray(w, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    grid = weight_grid(w, range(min(units, w.shape[1])), columns=columns, scale=1, pad=1)
    picture = Image.fromarray(grid, "RGBA").quantize(THUMBNAIL_COLOURS, method=Image.Quantize.FASTOCTREE,
                                                     dither=Image.Dither.NONE)
    buf = io.BytesIO()
    picture.save(buf, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def unit_grid(values: ArrayLike, scale: float | None = None, width: int = 256,
              mark: int | None = None) -> NDArray[np.uint8]:
    """One hidden layer's activations (units,) -> an RGB heat grid, one square per unit, about `width` px wide.

    Units fill a near-square grid (1024 units: 32x32; 16 units: 4x4) in unit order, so unit u sits
    at row u // columns, column u % columns. Colour runs from dark (0) to bright orange (the
    layer's largest activation, or `scale`); negative values (tanh) are blue. Spare cells stay
    transparent. `mark` frames one unit in white.
    """
    v = np.asarray(values, dtype=np.float32).ravel()
    columns = grid_columns(len(v))
    rows = -(-len(v) // columns)
    top = float(scale) if scale else float(np.abs(v).max()) or 1.0
    t = np.clip(v / top, -1, 1)[:, None]
    dark = np.array([30, 33, 40], np.float32)
    hot = np.array([255, 140, 40], np.float32)
    cold = np.array([70, 130, 220], np.float32)
    rgb = np.where(t >= 0, dark + t * (hot - dark), dark + (-t) * (cold - dark))
    cells = np.zeros((rows * columns, 4), np.uint8)
    cells[: len(v), :3] = rgb.astype(np.uint8)
    cells[: len(v), 3] = 255
    px = max(1, width // columns)
    out = np.kron(cells.reshape(rows, columns, 4), np.ones((px, px, 1), np.uint8))
    if mark is not None:  # a white frame around the picked unit
        r, c = divmod(int(mark), columns)
        edge = max(1, px // 4)
        frame = out[r * px:(r + 1) * px, c * px:(c + 1) * px]
        for band in (frame[:edge], frame[-edge:], frame[:, :edge], frame[:, -edge:]):
            band[...] = 255
    return out


def grid_columns(n: int) -> int:
    """Columns of the near-square grid that unit_grid lays `n` units out in."""
    return max(1, int(np.ceil(np.sqrt(n))))


def saliency_overlay(image28: ArrayLike, saliency28: ArrayLike, scale: int = 8) -> NDArray[np.uint8]:
    """The 28x28 input in grey with the saliency on top: red where ink raises the class, blue where it lowers it."""
    img = np.clip(np.asarray(image28, np.float32).reshape(28, 28), 0, 1)
    s = np.asarray(saliency28, np.float32).reshape(28, 28)
    limit = float(np.abs(s).max()) or 1.0
    t = np.clip(s / limit, -1, 1)[..., None]
    grey = (0.35 * img)[..., None] * np.ones(3, np.float32) * 255
    red, blue = np.array([255, 60, 40], np.float32), np.array([60, 140, 255], np.float32)
    strength = np.abs(t) ** 0.7  # lifts weak evidence so it stays visible
    colour = np.where(t > 0, red, blue)
    rgb = grey * (1 - strength) + colour * strength
    out = rgb.astype(np.uint8)
    return np.kron(out, np.ones((scale, scale, 1), np.uint8))


def png_data_url(image: ArrayLike) -> str:
    """A uint8 image ((h, w) grey, (h, w, 3) RGB or (h, w, 4) RGBA) as a PNG `data:` URL, for st.image.

    st.image hands a data URL to the browser as it is, inside the page's message: no media file for
    the server to store, hash and serve, and no second request from the browser (the Draw page
    shows several images on every stroke). PNG keeps the pixels exact (arrays go out as JPEG otherwise).
    """
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, "PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
