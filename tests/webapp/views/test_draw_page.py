"""The Draw page through streamlit.testing.v1.AppTest: the canvas's data injected through session state,
the reading, Clear, and the upload of a model file."""

import pytest

from harness import canvas_data_url, canvas_value
from harness.apptest import metrics, open_app, plain
from mlp import MLP, ModelFileError, model_to_bytes
from webapp.session.registry import read_upload


def test_draw_page_starts_with_a_hint_and_no_prediction():
    at = open_app()
    assert at.title[0].value == "Draw a digit"
    assert "Prediction" not in metrics(at)
    assert any("Draw a digit on the canvas" in i.value for i in at.info)
    assert at.button(key="clear").label == "Clear"


@pytest.mark.parametrize("index", range(5))
def test_injected_canvas_gives_a_prediction(mnist, index):
    at = open_app()
    at.session_state["canvas"] = canvas_value(canvas_data_url(mnist.x_test[index]))
    at.run()
    assert not at.exception
    m = metrics(at)
    assert m["Prediction"] == str(mnist.y_test[index])
    assert float(m["Confidence"].rstrip("%")) > 50
    beside = at.columns[1]  # beside the canvas (the views inside the network follow below)
    assert len(beside.get("vega_lite_chart")) == 1  # the probability bars
    assert len(beside.get("image")) == 1  # the 28x28 input, enlarged


def test_clear_removes_the_prediction(mnist):
    at = open_app()
    at.session_state["canvas"] = canvas_value(canvas_data_url(mnist.x_test[0]))
    at.run()
    assert "Prediction" in metrics(at)
    at.button(key="clear").click().run()
    assert "Prediction" not in metrics(at)
    assert at.session_state["canvas_round"] == 1


def test_same_digit_small_in_a_corner_reads_the_same(mnist):
    at = open_app()
    at.session_state["canvas"] = canvas_value(canvas_data_url(mnist.x_test[0], offset=(0, 0), scale=3))
    at.run()
    assert metrics(at)["Prediction"] == str(mnist.y_test[0])


# -- a reading that is not sure says so in its large slot ------------------------------------------


def letter_a():
    """A canvas with a capital A drawn in three strokes, as a visitor might (no digit)."""
    import base64
    import io

    from PIL import Image, ImageDraw

    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    pen = ImageDraw.Draw(canvas)
    for line in ([(60, 250), (140, 30)], [(140, 30), (220, 250)], [(95, 160), (185, 160)]):
        pen.line(line, fill=(255, 255, 255, 255), width=18)
    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    return canvas_value("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode())


def test_a_letter_reads_as_no_digit_in_the_large_slot_not_as_a_confident_digit():
    at = open_app()
    at.session_state["canvas"] = letter_a()
    at.run()
    m = metrics(at)
    assert m["Prediction"] == "?", m
    assert float(m["Confidence"].rstrip("%")) < 45
    notes = [md.value for md in at.markdown if "doesn't look like a digit" in md.value]
    assert len(notes) == 1 and "best guess" in notes[0], notes


# -- uploads: a refused file is named with the reason and does not stay listed ---------------------


def test_upload_check_names_the_problem():
    good = MLP([784, 16, 10], seed=1)
    assert read_upload("good.npz", model_to_bytes(good)).layer_sizes == [784, 16, 10]
    with pytest.raises(ModelFileError, match="bad.npz was not loaded: not a model file"):
        read_upload("bad.npz", b"not a model")


def test_a_refused_upload_leaves_the_uploader_empty_and_says_why():
    from mlp import model_to_bytes

    at = open_app()
    assert at.get("file_uploader")[0].key == "upload-0"
    at.get("file_uploader")[0].set_value(("broken.npz", b"not a model", "application/octet-stream")).run()
    assert not at.exception, at.exception
    uploaders = at.get("file_uploader")
    assert [u.key for u in uploaders] == ["upload-1"]  # a new, empty uploader
    assert any("broken.npz was not loaded" in plain(e.value) for e in at.error), [e.value for e in at.error]
    assert at.selectbox(key="draw_model").value == "Pretrained"

    good = model_to_bytes(MLP([784, 16, 10], seed=2))
    uploaders[0].set_value(("my digits.npz", good, "application/octet-stream")).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="draw_model").value == "my digits"
    assert not at.error
    assert [u.key for u in at.get("file_uploader")] == ["upload-1"]  # the file that loaded stays listed
