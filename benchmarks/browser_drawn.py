"""Drawn digits in a real browser: pen strokes replayed with the mouse on the Draw page's canvas.

    MLP_DATA_DIR=../shared python -m benchmarks.browser_drawn [--n 30] [--seed 1] [--json]

`benchmarks/drawn_digits.py` scores the model on canvases that `drawn.generate` renders itself,
imitating the browser canvas. This script checks that imitation and the whole Draw page
end to end: it starts the app on 127.0.0.1, and for each of n drawings (the same generator,
from MNIST *test* digits) sets the brush width, replays the strokes' mouse events on
`canvas.upper-canvas` in Debian's chromium, reads the "Prediction" metric, and compares
the canvas the browser drew with the one the generator renders (intersection over union
of the ink). It prints the browser's accuracy, the offline accuracy on the same drawings,
how often the two predictions agree, and the median ink IoU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from data import load_dataset
from drawn import iter_pen_strokes, render_pen_strokes
from harness import CHROMIUM, CHROMIUM_ARGS, DRAWING_LAYER, ROOT, settle, start_app, stop_app
from mlp import MLP, load_model
from mlp.preprocess import preprocess, to_model_input

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from playwright.sync_api import Page

CANVAS_PIXELS_JS = """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                      const out = new Array(c.width * c.height);
                      for (let i = 0; i < out.length; i++) out[i] = d[4 * i];
                      return [c.width, c.height, out]; }"""


def canvas_pixels(page: Page) -> NDArray[np.uint8]:
    """The drawing layer's red channel as a (280, 280) uint8 array (scaled down if the screen is denser)."""
    width, height, values = page.locator(DRAWING_LAYER).last.evaluate(CANVAS_PIXELS_JS)
    pixels = np.asarray(values, dtype=np.uint8).reshape(height, width)
    step = width // 280
    return pixels[::step, ::step] if step > 1 else pixels


def set_brush(page: Page, brush: int) -> None:
    """Move the Brush width slider (in the Brush popover) to `brush` with the keyboard; wait for the app to take it."""
    slider = page.get_by_role("slider", name="Brush width")
    if not slider.is_visible():
        page.get_by_role("button", name="Brush").click()
    current = int(slider.input_value())
    if current == brush:
        page.keyboard.press("Escape")
        return
    slider.focus()
    key = "ArrowRight" if brush > current else "ArrowLeft"
    for _ in range(abs(brush - current)):
        slider.press(key)
    deadline = time.time() + 10
    while int(slider.input_value()) != brush:
        assert time.time() < deadline, f"the brush slider did not reach {brush}"
        time.sleep(0.05)
    page.keyboard.press("Escape")  # close the popover: it would cover the canvas
    # The canvas takes the new width when the rerun's answer arrives, and a stroke under way at
    # that moment is cut short (the component resets its pen). The status widget does not show
    # short reruns, so give the answer time to land before drawing.
    time.sleep(1.0)
    settle(page)


def replay(page: Page, strokes: Sequence[Sequence[Sequence[float]]]) -> None:
    """Draw the strokes (lists of (x, y) canvas points) with the mouse, whatever size the canvas is shown at."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    scale = box["width"] / 280
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        page.mouse.up()


def read_prediction(page: Page) -> str | None:
    """The "Prediction" metric's value once the app is idle, or None if none is shown."""
    settle(page)
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction")
    if not metric.count():
        return None
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def clear(page: Page) -> None:
    page.get_by_role("button", name="Clear").click()
    deadline = time.time() + 30
    while canvas_pixels(page).max() > 128:
        assert time.time() < deadline, "Clear did not wipe the canvas"
        time.sleep(0.05)
    settle(page)


def iou(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    ink_a, ink_b = a > 128, b > 128
    union = np.logical_or(ink_a, ink_b).sum()
    return float(np.logical_and(ink_a, ink_b).sum() / union) if union else 1.0


def run(page: Page, url: str, model: MLP,
        drawings: Iterable[tuple[list[NDArray[Any]], int, int, int, int]]) -> list[dict[str, Any]]:
    """Replay each (strokes, label, brush) on a fresh Draw page; per-drawing results."""
    page.goto(url)
    page.locator("canvas.upper-canvas").wait_for()
    settle(page)
    results = []
    for events, label, brush, _, _ in sorted(drawings, key=lambda d: d[2]):  # fewer brush changes
        set_brush(page, brush)
        replay(page, [s.tolist() for s in events])
        browser_says = read_prediction(page)
        drawn = canvas_pixels(page)
        offline = render_pen_strokes(events, brush)
        x28 = preprocess(offline)
        offline_says = None if x28 is None else str(int(model.predict(to_model_input(x28))[0]))
        results.append({"label": str(label), "brush": brush, "browser": browser_says, "offline": offline_says,
                        "ink_iou": iou(drawn, offline)})
        clear(page)
    return results


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    n = len(results)
    return {
        "n": n,
        "browser_accuracy": sum(r["browser"] == r["label"] for r in results) / n,
        "offline_accuracy": sum(r["offline"] == r["label"] for r in results) / n,
        "agreement": sum(r["browser"] == r["offline"] for r in results) / n,
        "median_ink_iou": statistics.median(r["ink_iou"] for r in results),
        "min_ink_iou": min(r["ink_iou"] for r in results),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=30, help="drawings to replay (balanced over the ten digits)")
    p.add_argument("--seed", type=int, default=1, help="seed of the drawing generator")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    ds = load_dataset("mnist")
    model = load_model(ROOT / "models" / "default.npz")
    drawings = list(iter_pen_strokes(args.n, args.seed, ds.x_test, ds.y_test))
    proc, url = start_app()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(30_000)
            results = run(page, url, model, drawings)
            browser.close()
    finally:
        stop_app(proc)
    summary = summarise(results)
    if args.json:
        print(json.dumps({"summary": summary, "drawings": results}, indent=2))
        return
    print(f"{summary['n']} drawings replayed with the mouse in chromium (generator seed {args.seed}):")
    print(f"  browser accuracy {summary['browser_accuracy']:.1%}, offline accuracy on the same drawings "
          f"{summary['offline_accuracy']:.1%}, same prediction {summary['agreement']:.1%}")
    print(f"  ink IoU, browser canvas vs generator: median {summary['median_ink_iou']:.3f}, "
          f"lowest {summary['min_ink_iou']:.3f}")
    for r in results:
        if r["browser"] != r["label"] or r["browser"] != r["offline"]:
            print(f"  digit {r['label']} (brush {r['brush']}): browser read {r['browser']}, offline {r['offline']}, "
                  f"ink IoU {r['ink_iou']:.3f}")


if __name__ == "__main__":
    main()
