"""Helpers shared by the app tests: canvas images as the drawing component sends them."""

import base64
import io

import numpy as np
from PIL import Image

ROOT_APP = "app.py"


def canvas_data_url(digit28, offset=(60, 40), scale=7):
    """A 280x280 RGBA canvas PNG (data URL) with an MNIST digit enlarged onto a black background."""
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    big = Image.fromarray(np.asarray(digit28, dtype=np.uint8)).resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR)
    canvas.paste(Image.merge("RGBA", (big, big, big, Image.new("L", big.size, 255))), offset)
    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def canvas_value(data_url):
    """The session-state value streamlit-drawable-canvas stores for a drawing."""
    return {"drawing": {"raw": {"objects": [{"type": "path"}], "background": "#000000"}, "data": data_url},
            "backgroundFit": None}
