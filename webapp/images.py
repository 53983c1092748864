"""Pictures of arrays: enlarged 28x28 inputs and grids of first-layer weights. Pure NumPy."""

import numpy as np


def enlarge(image28, scale=10, grid=True):
    """A (28, 28) float image in [0, 1] -> (28*scale, 28*scale) uint8 with visible pixels.

    Each pixel becomes a scale x scale block; a faint grid separates the blocks.
    """
    img = np.clip(np.asarray(image28, dtype=np.float32), 0, 1)
    big = np.kron(img, np.ones((scale, scale), dtype=np.float32))
    out = (big * 255).astype(np.uint8)
    if grid and scale >= 4:
        out[::scale, :] = np.maximum(out[::scale, :], 40)
        out[:, ::scale] = np.maximum(out[:, ::scale], 40)
    return out


def diverging_rgb(values, limit=None):
    """Map values to RGB uint8 with a blue-white-red scale, symmetric around 0."""
    v = np.asarray(values, dtype=np.float32)
    limit = float(np.abs(v).max()) if limit is None else float(limit)
    t = np.clip(v / (limit or 1.0), -1, 1)[..., None]
    white = np.array([247, 247, 247], dtype=np.float32)
    red = np.array([178, 24, 43], dtype=np.float32)
    blue = np.array([33, 102, 172], dtype=np.float32)
    rgb = np.where(t > 0, white + t * (red - white), white + (-t) * (blue - white))
    return rgb.astype(np.uint8)


def weight_grid(w, units, columns=16, scale=3, pad=2):
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
