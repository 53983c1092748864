"""Inspect's Calibration tab through AppTest: the ECE shown is the one mlp.calibration computes from the same
probabilities, and the drawn set is made only when its tab is opened, once per server."""

import numpy as np
import pyarrow as pa
import pytest

from drawn import score
from drawn.score import drawn_inputs as make_drawn  # bound before any test counts the makings
from harness import PATIENCE
from harness.apptest import metrics, open_app
from mlp import MLP, load_model, to_inputs
from mlp.calibration import reliability
from needs import missing
from webapp import settings
from webapp.session.registry import ModelEntry, ModelKind
from webapp.views import calibration

SMALL_N = 40  # drawn digits in these tests (2,000 take ~15 s)


@pytest.fixture(autouse=True)
def drawn_makings(monkeypatch):
    """A small drawn set, its makings counted (what sessions share is a fresh server's: tests/conftest.py)."""
    made, make = [], score.drawn_inputs

    def counted(n, seed, **kwargs):
        made.append((n, seed))
        return make(n, seed, **kwargs)

    monkeypatch.setattr(calibration, "DRAWN_N", SMALL_N)
    monkeypatch.setattr(score, "drawn_inputs", counted)  # resources.drawn_set makes the set through it
    return made


@pytest.fixture(scope="module")
def shipped():
    return load_model(settings.current().pretrained)


def diagram_bins(node):
    """The rows of the one reliability diagram under node (a DataFrame)."""
    found = []
    for chart in node.get("vega_lite_chart"):
        for d in chart.proto.datasets:
            frame = pa.ipc.open_stream(d.data.data).read_all().to_pandas()
            if {"low", "high", "count", "accuracy", "confidence"} <= set(frame.columns):
                found.append(frame)
    assert len(found) == 1, f"{len(found)} reliability diagrams"
    return found[0]


def calibration_tab(at):
    found = [t for t in at.tabs if t.label == "Calibration"]
    assert len(found) == 1, [t.label for t in at.tabs]
    return found[0]


def open_drawn(at):
    at.session_state["calibration_tab"] = "Drawn digits"
    at.run()
    assert not at.exception, at.exception
    return at


def test_pretrained_shows_its_mnist_test_ece_and_leaves_the_drawn_set_alone(mnist, shipped, drawn_makings):
    at = open_app("inspect")
    expected = reliability(shipped.predict_proba(to_inputs(mnist.x_test)), mnist.y_test.astype(np.int64))
    shown = metrics(at)
    assert shown["ECE on MNIST test"] == f"{expected.ece:.2%}"
    assert shown["Mean confidence"] == f"{expected.mean_confidence:.2%}"
    assert shown["Right"] == f"{expected.overall_accuracy:.2%}" == f"{shipped.meta['test_accuracy']:.2%}"
    tab = calibration_tab(at)
    assert [t.label for t in tab.tabs] == list(calibration.TABS)
    bins = diagram_bins(tab)
    assert bins["count"].sum() == len(mnist.y_test)
    np.testing.assert_allclose(bins["accuracy"], expected.accuracy[expected.count > 0])
    text = " ".join(m.value for m in tab.markdown)
    assert "when it says 90%, it is right about 90% of the time" in text
    assert calibration.describe(expected) in text
    assert drawn_makings == []  # the drawn set waits for its tab
    assert "ECE on drawn digits" not in shown


def test_drawn_tab_scores_the_drawn_set_once_per_server(mnist, shipped, drawn_makings):
    at = open_drawn(open_app("inspect"))
    inputs = make_drawn(SMALL_N, 0, dataset=mnist)
    expected = reliability(shipped.predict_proba(inputs.x), inputs.labels)
    shown = metrics(at)
    assert shown["ECE on drawn digits"] == f"{expected.ece:.2%}"
    assert "ECE on MNIST test" not in shown  # only the open tab runs
    assert diagram_bins(calibration_tab(at))["count"].sum() == SMALL_N
    assert drawn_makings == [(SMALL_N, 0)]
    at.run()
    other = open_drawn(open_app("inspect"))  # another session: the same drawings, not made again
    assert metrics(other)["ECE on drawn digits"] == f"{expected.ece:.2%}"
    assert drawn_makings == [(SMALL_N, 0)]


def test_a_session_model_gets_its_own_figures(mnist, drawn_makings):
    at = open_app("inspect")
    model = MLP([784, 16, 10], seed=3)  # untrained: about 10% right, far from calibrated either way
    at.session_state["models"]["Uploaded 1"] = ModelEntry("Uploaded 1", ModelKind.UPLOADED, model=model)
    at.run()
    at.selectbox(key="inspect_model").set_value("Uploaded 1").run()
    assert not at.exception, at.exception
    expected = reliability(model.predict_proba(to_inputs(mnist.x_test)), mnist.y_test.astype(np.int64))
    assert metrics(at)["ECE on MNIST test"] == f"{expected.ece:.2%}"
    open_drawn(at)
    inputs = make_drawn(SMALL_N, 0, dataset=mnist)
    assert metrics(at)["ECE on drawn digits"] == f"{reliability(model.predict_proba(inputs.x), inputs.labels).ece:.2%}"


def test_a_fashion_model_uses_its_own_test_set_and_skips_the_drawn_set(drawn_makings):
    from data import DatasetNotFound, load_dataset

    try:
        fashion = load_dataset("fashion-mnist")
    except DatasetNotFound as e:
        missing(f"Fashion-MNIST not available: {e}")  # .ci/run installs Debian's dataset-fashion-mnist
    at = open_app("inspect")
    model = MLP([784, 16, 10], seed=5)
    model.meta["dataset"] = "fashion-mnist"
    at.session_state["models"]["Clothes"] = ModelEntry("Clothes", ModelKind.UPLOADED, model=model)
    at.run()
    at.selectbox(key="inspect_model").set_value("Clothes").run()
    assert not at.exception, at.exception
    expected = reliability(model.predict_proba(to_inputs(fashion.x_test)), fashion.y_test.astype(np.int64))
    shown = metrics(at)
    assert shown["ECE on Fashion-MNIST clothes test"] == f"{expected.ece:.2%}"
    tab = calibration_tab(at)
    assert not tab.tabs  # no drawn-set tab
    assert any("only applies to models trained on MNIST" in c.value for c in tab.caption)
    assert drawn_makings == []


# -- in a real browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(mnist, chromium):
    """A fresh `streamlit run app.py` on 127.0.0.1 (its base URL) and chromium, for the browser check."""
    from harness import start_app, stop_app

    proc, url = start_app()
    try:
        yield url, chromium
    finally:
        stop_app(proc)


def luminance(css_colour):
    """0 (black) to 1 (white) from 'rgb(r, g, b)' or 'rgba(...)' or '#rrggbb'."""
    import re

    if css_colour.startswith("#"):
        rgb = [int(css_colour[i:i + 2], 16) for i in (1, 3, 5)]
    else:
        rgb = [float(c) for c in re.findall(r"[\d.]+", css_colour)[:3]]
    return sum(rgb) / (3 * 255)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.xdist_group("test_calibration_views_browser")  # one worker, so one server for both schemes
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_diagram_reads_in_the_browser_in_light_and_dark(served, scheme, mnist, shipped, screenshots):
    """The diagram's bars carry their counts, its axis text contrasts with the page, and the drawn tab
    shows a spinner while 2,000 drawings are made (in the light run; the dark one finds them cached)."""
    import re


    url, browser = served
    expected = reliability(shipped.predict_proba(to_inputs(mnist.x_test)), mnist.y_test.astype(np.int64))
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.set_default_timeout(PATIENCE * 1000)
        page.goto(f"{url}/inspect")
        page.get_by_role("heading", name="Inspect a model").wait_for()
        page.get_by_role("tab", name="Calibration").click()
        ece = page.locator('[data-testid="stMetric"]').filter(has_text="ECE on MNIST test")
        ece.wait_for()
        assert ece.locator('[data-testid="stMetricValue"]').inner_text().strip() == f"{expected.ece:.2%}"
        # Vega draws SVG paths whose aria-labels carry the tooltip's fields: the top bin's bar.
        top = page.locator(f'path[aria-label*="count: {expected.count[-1]};"]')
        top.first.wait_for(state="attached")
        assert float(top.first.evaluate("e => getComputedStyle(e).fillOpacity")) > 0.5
        # The bar stands on 0: about as tall as the 0-100% axis times its accuracy (not a sliver at its top)
        axis = page.locator('[data-testid="stVegaLiteChart"] [aria-label^="Y-axis titled \'read correctly\'"]')
        axis_height = axis.first.evaluate("e => e.getBBox().height")
        bar_height = top.first.evaluate("e => e.getBBox().height")
        # (the axis's box also holds half a label's height above 100% and below 0%)
        assert 0.9 * expected.accuracy[-1] * axis_height < bar_height <= axis_height, (bar_height, axis_height)
        background = page.locator('[data-testid="stApp"]').evaluate("e => getComputedStyle(e).backgroundColor")
        label = page.locator('[data-testid="stVegaLiteChart"] text').filter(has_text="confidence (top probability)")
        ink = label.first.evaluate("e => getComputedStyle(e).fill")
        assert abs(luminance(ink) - luminance(background)) > 0.4, (ink, background)
        label.first.scroll_into_view_if_needed()
        shots = screenshots
        page.screenshot(path=str(shots / f"inspect-calibration-{scheme}.png"), full_page=True)
        page.get_by_role("tab", name="Drawn digits").click()
        if scheme == "light":
            page.get_by_text(re.compile(r"^Drawing 2,000 digits")).wait_for()
        drawn = page.locator('[data-testid="stMetric"]').filter(has_text="ECE on drawn digits")
        drawn.wait_for(timeout=PATIENCE * 1000)
        assert re.fullmatch(r"\d+\.\d\d%", drawn.locator('[data-testid="stMetricValue"]').inner_text().strip())
        caption = page.get_by_text(re.compile(r"^2,000 digits drawn with a pen"))
        caption.wait_for()
        caption.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"inspect-calibration-drawn-{scheme}.png"), full_page=True)
    finally:
        context.close()
