"""harness.screenshots, the script that makes README's pictures: its visits of every page still work.

A shorter run than the script's (2 epochs on 2,000 images, one model in the gallery); the PNGs go
to a temporary folder, not docs/images.
"""

import pytest
from PIL import Image

from harness import screenshots

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_screenshot_script_visits_every_page(mnist, chromium, tmp_path):
    with screenshots.app_with_gallery(screenshots.GALLERY_MODELS[:1], epochs=1) as url:
        shots = screenshots.visit_pages(chromium, url, tmp_path, epochs=2, subset=2000)
    widths = {}
    for path in shots:
        before = path.stat().st_size
        screenshots.shrink(path)
        assert path.stat().st_size < before
        with Image.open(path) as im:
            widths[path.name] = im.width
    assert widths == {"train.png": 1280, "draw.png": 1280, "draw-inside.png": 1280, "inspect.png": 1280,
                      "gallery.png": 1280, "draw-phone.png": 390}
