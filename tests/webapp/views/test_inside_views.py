"""Inside the network on Draw, and Compare / Watch it learn on Inspect, through AppTest (no browser).

Every number the pages show is recomputed here from the same inputs with mlp.explain.
"""

import base64
import io
import json

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from harness import canvas_data_url, canvas_value
from harness.apptest import metrics, open_app, wait_for
from mlp import MLP, explain, load_model, to_inputs
from mlp.preprocess import preprocess, to_model_input
from webapp import settings
from webapp.session.registry import ModelEntry

DRAW_FIRST = "Draw a digit to see inside the network."
NOT_HERE = "The link's model B is not available here"
DIGIT = 0  # MNIST test image drawn on the canvas (a 7)


@pytest.fixture(scope="module")
def shipped():
    return load_model(settings.current().pretrained)


@pytest.fixture(scope="module")
def test_set(mnist):
    """(x_test float32 inputs, y_test int64), as the app converts them."""
    return to_inputs(mnist.x_test), mnist.y_test.astype(np.int64)


@pytest.fixture(scope="module")
def test_trace(shipped, test_set):
    """The shipped model's trace over the whole test set."""
    return explain.trace(shipped, test_set[0])


# -- helpers -------------------------------------------------------------------------------------


def drawn(mnist, index=DIGIT):
    """The Draw page with MNIST test image `index` on the canvas, and the (1, 784) input the model sees."""
    url = canvas_data_url(mnist.x_test[index])
    at = open_app()
    at.session_state["canvas"] = canvas_value(url)
    at.run()
    assert not at.exception, at.exception
    rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(";base64,", 1)[1]))))
    return at, to_model_input(preprocess(rgba))


def tab(at, label):
    """The tab named `label`, opened (only the open tab of the section runs) if it is not open already."""
    if at.session_state["inside_tab"] != label if "inside_tab" in at.session_state else label != "Activations":
        at.session_state["inside_tab"] = label
        at.run()
        assert not at.exception, at.exception
    found = [t for t in at.tabs if t.label == label]
    assert len(found) == 1, [t.label for t in at.tabs]
    return found[0]


def image_captions(node):
    """One list of captions per st.image call under node (a call may show several images)."""
    return [[img.caption for img in el.proto.imgs] for el in node.get("image")]


def image_urls(node):
    return [[img.url for img in el.proto.imgs] for el in node.get("image")]


def chart_data(chart):
    """(spec, [DataFrame per dataset]) of one Altair chart element."""
    frames = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]
    return json.loads(chart.proto.spec), frames


def map_chart(at):
    """The test-set map on Where it sits: the chart whose spec has the "image" selection."""
    found = [c for c in tab(at, "Where it sits").get("vega_lite_chart")
             if any(p.get("name") == "image" for p in json.loads(c.proto.spec).get("params", []))]
    assert len(found) == 1, f"{len(found)} map charts"
    assert found[0].proto.id.endswith("map_chart")
    return found[0]


def second_model(at, name="Extra"):
    """Add an untrained 784-32-10 model to the app's session."""
    entry = ModelEntry(name, "uploaded", model=MLP([784, 32, 10], seed=1))
    at.session_state["models"][name] = entry
    return entry




# -- Draw: inside the network ------------------------------------------------------------------


def test_before_drawing_every_tab_asks_for_a_digit(mnist):
    at = open_app()
    assert [t.label for t in at.tabs] == ["Activations", "Why this digit", "Where it sits", "Two models"]
    for label in ["Activations", "Why this digit", "Where it sits", "Two models"]:
        t = tab(at, label)
        assert [c.value for c in t.caption] == [DRAW_FIRST]
        assert not t.get("image")
        assert not t.get("vega_lite_chart")
    assert not [c for cap in image_captions(at) for c in cap if c.startswith("Layer ")]


def test_activations_count_active_units_and_show_a_units_favourite_images(mnist, shipped, test_trace):
    at, x = drawn(mnist)
    traced = explain.trace(shipped, x)
    act = tab(at, "Activations")
    caps = image_captions(act)
    layers = [c for cap in caps for c in cap if c.startswith("Layer ")]
    assert len(caps[0]) == 2  # one image element: both grids, side by side
    assert shipped.layer_sizes == [784, 1024, 1024, 10]
    assert layers == [f"Layer {i + 1}: {int((h[0] > 0).sum()):,} of 1,024 units active"
                      for i, h in enumerate(traced.hidden)]
    # The unit defaults to layer 1's most active unit; its incoming weights show.
    assert at.selectbox(key="unit_layer").value == 0
    assert at.number_input(key="unit").value == int(traced.hidden[0][0].argmax())
    assert ["Its incoming weights"] in caps

    # Layer 2, unit u: its template for this drawing and its 8 favourite test images.
    h2 = test_trace.hidden[1]
    unit = int(traced.hidden[1][0].argmax())
    at.selectbox(key="unit_layer").set_value(1).run()
    at.number_input(key="unit").set_value(unit).run()
    assert not at.exception, at.exception
    act = tab(at, "Activations")
    caps = image_captions(act)
    assert ["Its template for this drawing"] in caps
    assert ["Its incoming weights"] not in caps
    assert not [c for c in caps if c and all(s.startswith("#") for s in c)]  # only on request
    at.button(key="favourites_button").click().run()
    assert not at.exception, at.exception
    caps = image_captions(tab(at, "Activations"))
    top = [c for c in caps if c and all(s.startswith("#") for s in c)]
    assert len(top) == 1 and len(top[0]) == 8, caps
    shown = [int(s[1:]) for s in top[0]]
    values = h2[:, unit]
    expected = np.argsort(-values, kind="stable")[:8]
    assert np.array_equal(values[shown], values[expected])  # the 8 largest, largest first
    if values[expected[-1]] > np.sort(values)[-9]:  # no tie at the 8th place: the very same images
        assert set(shown) == set(expected.tolist())
    assert any(f"excite unit {unit} of layer 2 most" in c.value for c in tab(at, "Activations").caption)


def test_most_active_button_picks_the_layers_most_active_unit(mnist, shipped):
    at, x = drawn(mnist)
    traced = explain.trace(shipped, x)
    at.selectbox(key="unit_layer").set_value(1).run()
    at.number_input(key="unit").set_value(3).run()
    at.button(key="unit_most_active").click().run()
    assert not at.exception, at.exception
    assert at.number_input(key="unit").value == int(traced.hidden[1][0].argmax())


def test_a_16_unit_model_after_the_shipped_one_gets_its_own_unit(mnist):
    at, x = drawn(mnist)
    assert at.number_input(key="unit").value >= 16  # layer 1's most active unit of the shipped model
    small = second_model(at, "Small")
    small.model = MLP([784, 16, 10], seed=2)
    at.run()
    at.selectbox(key="draw_model").set_value("Small").run()
    assert not at.exception, at.exception
    traced = explain.trace(small.model, x)
    caps = image_captions(tab(at, "Activations"))
    assert [c[0] for c in caps if c and c[0].startswith("Layer ")] == [
        f"Layer 1: {int((traced.hidden[0][0] > 0).sum())} of 16 units active"]
    assert at.number_input(key="unit").value == int(traced.hidden[0][0].argmax())
    assert at.number_input(key="unit").max == 15


def test_a_model_without_hidden_layers_still_reads_a_drawing(mnist):
    at = open_app()
    second_model(at, "Linear").model = MLP([784, 10], seed=1)
    at.run()
    at.selectbox(key="draw_model").set_value("Linear").run()
    at.session_state["canvas"] = canvas_value(canvas_data_url(mnist.x_test[DIGIT]))
    at.run()
    assert not at.exception, at.exception
    assert "Prediction" in metrics(at)


def test_why_this_digit_explains_the_reading_or_a_picked_digit(mnist, shipped):
    at, x = drawn(mnist)
    probs = explain.trace(shipped, x).probs[0]
    reading = int(probs.argmax())
    assert reading == int(mnist.y_test[DIGIT])
    why = tab(at, "Why this digit")
    box = at.selectbox(key="explain_digit")
    assert box.label == "Explain" and box.value is None
    assert box.options[0] == f"the reading ({reading})"
    assert why.markdown[0].value.startswith(f"**Why {reading}?**")
    before = image_urls(why)
    assert len(before) == 1

    other = 3
    at.selectbox(key="explain_digit").set_value(other).run()
    assert not at.exception, at.exception
    why = tab(at, "Why this digit")
    text = why.markdown[0].value
    assert text.startswith(f"**Why {other}?**")
    assert f"**{probs[other]:.1%}**" in text
    assert image_urls(why) != before  # another saliency map


def test_where_it_sits_places_the_drawing_on_the_test_set_map(mnist, shipped, test_set):
    at, x = drawn(mnist)
    spec, frames = chart_data(map_chart(at))
    points = [f for f in frames if "index" in f.columns]
    here = [f for f in frames if "what" in f.columns]
    assert len(points) == 1 and len(here) == 1
    points, here = points[0], here[0]
    assert len(points) == 2000 and len(here) == 1
    shown = np.arange(0, 10_000, 5)
    assert np.array_equal(points["index"].to_numpy(), shown)
    emb = explain.fit_embedding(shipped, test_set[0])
    expected = emb.project(explain.trace(shipped, x).hidden[-1])[0]
    np.testing.assert_allclose(here[["x", "y"]].to_numpy()[0], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(points[["x", "y"]].to_numpy(), emb.coords[shown], rtol=1e-4, atol=1e-3)
    assert (points["class"].astype(int).to_numpy() == test_set[1][shown]).all()


def test_clicking_a_map_point_opens_that_test_image_on_inspect(mnist):
    """AppTest has no chart clicks, and charts are not in AppTest's widget states: the click is sent as the
    browser sends it, a widget state for the chart's id (through AppTest's private _run / _tree)."""
    at, _ = drawn(mnist)
    chart = map_chart(at)
    states = at._tree.get_widget_states()
    click = states.widgets.add()
    click.id = chart.proto.id
    click.string_value = json.dumps({"selection": {"image": [{"index": 35}]}})
    at._run(widget_state=states)
    assert not at.exception, at.exception
    assert at.title[0].value == "Inspect a model"
    assert at.session_state["f_sample"] == 35
    assert at.query_params.get("sample") == "35"
    assert ["test image #35"] in image_captions(at)


def test_two_models_reads_the_drawing_with_both(mnist, shipped):
    at, x = drawn(mnist)
    two = tab(at, "Two models")
    assert any("Train or upload another model" in c.value for c in two.caption)
    assert not two.metric
    extra = second_model(at)
    at.run()
    assert not at.exception, at.exception
    two = tab(at, "Two models")
    assert at.selectbox(key="compare_model").value == "Extra"
    expected = [("Pretrained", str(int(shipped.predict_proba(x)[0].argmax()))),
                ("Extra", str(int(extra.model.predict_proba(x)[0].argmax())))]
    assert [(m.label, m.value) for m in two.metric] == expected
    assert len(two.get("vega_lite_chart")) == 2  # a probability chart each


# -- Inspect: compare with another model -------------------------------------------------------


def test_compare_with_another_model_on_the_test_set(mnist, shipped, test_set):
    x_test, y_test = test_set
    at = open_app()
    extra = second_model(at)
    at.switch_page("app_pages/inspect.py").run()
    assert not at.exception, at.exception
    ab = tab(at, "Compare with another model")
    assert at.selectbox(key="compare_model").value == "Extra"
    ev_a, ev_b = shipped.evaluate(x_test, y_test), extra.model.evaluate(x_test, y_test)
    result = explain.compare(ev_a.probabilities, ev_b.probabilities, y_test)
    assert metrics(ab) == {
        "A: Pretrained": f"{ev_a.accuracy:.2%}",
        "B: Extra": f"{ev_b.accuracy:.2%}",
        "B fixed / broke": f"{len(result.fixed):,} / {len(result.broke):,}",
    }
    assert at.query_params["compare"] == extra.link_id
    charts = ab.get("vega_lite_chart")
    assert len(charts) == 1
    (cells,) = chart_data(charts[0])[1]
    diff = np.zeros((10, 10), dtype=int)
    diff[cells["true"].to_numpy(), cells["predicted"].to_numpy()] = cells["change"].to_numpy()
    assert np.array_equal(diff, result.diff_confusion)
    assert len(image_captions(ab)) == min(24, len(result.fixed)) + min(24, len(result.broke))


def test_the_pretrained_model_as_b_is_linked_by_name(mnist):
    at = open_app()
    extra = second_model(at)
    at.switch_page("app_pages/inspect.py").run()
    at.selectbox(key="inspect_model").set_value("Extra").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="compare_model").value == "Pretrained"
    assert at.query_params["compare"] == "Pretrained" and at.query_params["model"] == extra.link_id
    assert set(metrics(tab(at, "Compare with another model"))) >= {"A: Extra", "B: Pretrained"}


def test_a_compare_link_to_a_model_not_here_says_so(mnist):
    at = open_app(compare="unknownid")
    second_model(at)
    at.query_params["compare"] = "unknownid"
    at.switch_page("app_pages/inspect.py").run()
    assert not at.exception, at.exception
    assert any(NOT_HERE in w.value for w in at.warning), [w.value for w in at.warning]
    assert at.selectbox(key="compare_model").value == "Extra"


def test_a_compare_link_without_another_model_is_harmless(mnist):
    at = open_app("inspect", compare="unknownid")
    assert not at.exception, at.exception
    assert not any(NOT_HERE in w.value for w in at.warning)
    ab = tab(at, "Compare with another model")
    assert any("Train or upload another model" in c.value for c in ab.caption)
    assert "compare" not in at.query_params


# -- Inspect: watch it learn -------------------------------------------------------------------


def test_watch_it_learn_needs_a_run_from_this_session(mnist):
    at = open_app("inspect")
    replay = tab(at, "Watch it learn")
    assert any("Runs trained in this session" in c.value for c in replay.caption)
    assert not [s for s in at.get("select_slider") if s.key == "replay_epoch"]


@pytest.mark.slow
def test_watch_it_learn_replays_a_short_run(mnist, test_set):
    at = open_app("train")
    at.text_input(key="t_hidden").input("32").run()
    at.toggle(key="t_use_subset").set_value(True).run()
    at.number_input(key="t_subset").set_value(3000).run()
    at.number_input(key="t_epochs").set_value(3).run()
    at.button(key="start").click().run()
    assert not at.exception, at.exception
    wait_for(at, lambda at: any("Finished 3 epochs" in s.value for s in at.success), seconds=90)
    entry = at.session_state["models"]["My model 1"]
    model = entry.current()
    at.switch_page("app_pages/inspect.py").run()
    at.selectbox(key="inspect_model").set_value("My model 1").run()
    assert not at.exception, at.exception
    slider = at.select_slider(key="replay_epoch")
    assert slider.options == ["1", "2", "3"] and slider.value == 3
    replay = tab(at, "Watch it learn")
    shown = metrics(replay)["Test accuracy after epoch 3"]
    accuracy = model.evaluate(*test_set).accuracy
    assert abs(float(shown.rstrip("%")) / 100 - accuracy) <= 0.005, (shown, accuracy)
    assert abs(accuracy - model.meta["test_accuracy"]) <= 0.005
