"""What the refactored pages show, through streamlit.testing.v1.AppTest (no browser)."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from harness import canvas_value
from harness.apptest import metrics, open_app, plain
from mlp import MLP, load_model
from webapp.session.registry import ModelEntry, ModelKind

ROOT = Path(__file__).resolve().parents[2]
UNAVAILABLE = "The link you opened names a model that is not available here"


def charts(at):
    """(spec, [DataFrame per dataset]) for every Altair chart on the page, in page order."""
    found = []
    for chart in at.get("vega_lite_chart"):
        frames = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]
        found.append((json.loads(chart.proto.spec), frames))
    return found


def titles(at):
    out = []
    for spec, _ in charts(at):
        title = spec.get("title")
        out.append(title.get("text") if isinstance(title, dict) else title)
    return out


def confusion_cells(at):
    """The confusion matrix's cells (one DataFrame row each)."""
    frames = [f for _, fs in charts(at) for f in fs if "faded" in f.columns]
    assert len(frames) == 1, f"{len(frames)} confusion matrices"
    return frames[0]


def warnings(at):
    return [w.value for w in at.warning]


def shipped():
    return load_model(ROOT / "models" / "default.npz")


# -- Inspect ------------------------------------------------------------------------------------


def test_inspect_class_filters_read_any(mnist):
    at = open_app("inspect")
    for key in ("f_true", "f_pred"):
        box = at.selectbox(key=key)
        assert box.value == "any"
        assert box.options[0] == "any" and box.options[1:] == [str(i) for i in range(10)]
        assert box.index == 0
    assert "true" not in at.query_params and "pred" not in at.query_params


def test_link_to_a_model_not_here_says_so_and_shows_the_pretrained_one(mnist):
    at = open_app("inspect", model="deadbeefdeadbeef")
    assert any(UNAVAILABLE in w for w in warnings(at)), warnings(at)
    assert at.selectbox(key="inspect_model").value == "Pretrained"
    assert metrics(at)["Parameters"] == f"{shipped().n_parameters:,}"
    assert at.query_params.get("model") in (None, "")  # the pretrained model has no link id


def test_a_session_models_link_reopens_it_here_and_says_not_available_elsewhere(mnist):
    at = open_app("inspect")
    assert not any(UNAVAILABLE in w for w in warnings(at))
    upload = MLP([784, 16, 10], seed=3)
    entry = ModelEntry("Uploaded 1", ModelKind.UPLOADED, model=upload)
    at.session_state["models"]["Uploaded 1"] = entry
    at.run()
    at.selectbox(key="inspect_model").set_value("Uploaded 1").run()
    assert not at.exception, at.exception
    assert len(entry.link_id) == 16
    assert at.query_params["model"] == entry.link_id
    assert metrics(at)["Parameters"] == f"{upload.n_parameters:,}"
    assert not any(UNAVAILABLE in w for w in warnings(at))
    at.switch_page("app_pages/draw.py").run()  # other pages keep the model and the link
    assert at.selectbox(key="draw_model").value == "Uploaded 1"
    assert at.query_params["model"] == entry.link_id

    other = open_app("inspect", model=entry.link_id)  # another browser session: models are per session
    assert any(UNAVAILABLE in w for w in warnings(other)), warnings(other)
    assert other.selectbox(key="inspect_model").value == "Pretrained"
    assert metrics(other)["Parameters"] == f"{shipped().n_parameters:,}"


def test_picking_another_model_clears_the_notice(mnist):
    at = open_app("inspect", model="deadbeefdeadbeef")
    assert any(UNAVAILABLE in w for w in warnings(at))
    upload = ModelEntry("Uploaded 1", ModelKind.UPLOADED, model=MLP([784, 16, 10], seed=3))
    at.session_state["models"]["Uploaded 1"] = upload
    at.run()
    at.selectbox(key="inspect_model").set_value("Uploaded 1").run()
    assert not any(UNAVAILABLE in w for w in warnings(at))


def test_weights_tab_has_one_histogram_per_layer_and_the_history_charts(mnist):
    at = open_app("inspect")
    model = shipped()
    assert model.layer_sizes == [784, 1024, 1024, 10]
    shown = titles(at)
    histograms = [t for t in shown if t and t.startswith("layer ")]
    assert histograms == ["layer 1 (784×1024)", "layer 2 (1024×1024)", "layer 3 (1024×10)"]
    assert {"Loss", "Accuracy"} <= set(shown)
    for spec, _ in charts(at):
        title = spec.get("title")
        if isinstance(title, str) and title.startswith("layer "):
            assert spec["mark"]["type"] == "bar"


def test_training_settings_table_uses_labels(mnist):
    at = open_app("inspect")
    table = at.dataframe[0].value
    settings = dict(zip(table["setting"], table["value"]))
    assert settings["Learning rate"] == "0.001"
    assert settings["Batch size"] == "128"
    assert settings["Hidden layer sizes"] == "1024, 1024"
    assert any(s.startswith("Augmentation: ") for s in settings)
    assert not {"lr", "batch_size", "hidden", "augment"} & set(settings)


def test_confusion_highlight_follows_the_filters(mnist):
    at = open_app("inspect")
    cells = confusion_cells(at)
    assert len(cells) == 100 and not cells["faded"].any()
    at.selectbox(key="f_true").set_value(4).run()
    at.selectbox(key="f_pred").set_value(9).run()
    cells = confusion_cells(at)
    kept = cells[~cells["faded"]]
    assert list(zip(kept["true"], kept["predicted"])) == [(4, 9)]
    at.selectbox(key="f_true").set_value("any").run()
    at.selectbox(key="f_pred").set_value("any").run()
    assert not at.exception, at.exception
    assert not confusion_cells(at)["faded"].any()
    assert "true" not in at.query_params and "pred" not in at.query_params


def test_confusion_highlight_from_a_link(mnist):
    at = open_app("inspect", true="4", pred="9")
    cells = confusion_cells(at)
    assert (~cells["faded"]).sum() == 1
    at.selectbox(key="f_pred").set_value("any").run()  # one filter alone highlights no cell
    assert not confusion_cells(at)["faded"].any()


# -- Train ------------------------------------------------------------------------------------


def test_train_sidebar_restores_a_shared_link(mnist):
    at = open_app("train", batch="64", optimizer="momentum", momentum="0.8", hidden="64, 32", augment="true")
    assert at.number_input(key="t_batch").value == 64
    assert at.selectbox(key="t_optimizer").value == "momentum"
    assert at.slider(key="t_momentum").value == 0.8
    assert at.text_input(key="t_hidden").value == "64, 32"
    assert at.toggle(key="t_augment").value is True
    assert at.slider(key="t_aug_rotation").value == 12.0
    assert at.query_params["batch"] == "64" and at.query_params["optimizer"] == "momentum"
    assert not at.button(key="start").disabled


def test_train_sidebar_refuses_hostile_links(mnist):
    at = open_app("train", batch="-5", optimizer="rm -rf", lr="x" * 500, epochs="1e9", activation="<script>")
    assert at.number_input(key="t_batch").value == 128
    assert at.selectbox(key="t_optimizer").value == "adam"
    assert at.text_input(key="t_lr").value == "0.001"
    assert at.number_input(key="t_epochs").value == 10
    assert at.selectbox(key="t_activation").value == "relu"
    assert not [s for s in at.slider if s.key == "t_momentum"]  # adam: no momentum slider
    for name in ("batch", "optimizer", "lr", "epochs", "activation"):
        assert name not in at.query_params  # defaults are left out of the link
    assert not at.sidebar.error
    assert not at.button(key="start").disabled


# -- Draw: a reading that is not sure says so in its large slot ---------------------------------------


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


def test_readings_in_words():
    from mlp.unsure import judge
    from webapp.views.display import reading

    digits = [str(i) for i in range(10)]
    sure = np.full(10, 0.01)
    sure[7] = 0.91
    assert reading(judge(sure, 0.5), digits) == ("7", "91.0%", None)
    two = np.full(10, 0.0125)
    two[4], two[9] = 0.5, 0.4
    assert reading(judge(two, 0.6), digits) == ("4 or 9?", "50.0%", "Not sure: 4 or 9?")
    flat = np.full(10, 0.1)
    flat[0] = 0.104
    said = reading(judge(flat / flat.sum(), 0.5), digits)
    assert said.prediction == "?" and said.note.startswith("That doesn't look like a digit (best guess 0")


# -- Train: a link's values the sidebar cannot take are named, with the reason -----------------------


def test_train_link_with_bad_values_says_which_were_ignored_and_why(mnist):
    at = open_app("train", epochs="-5", batch="999999", dropout="7", optimizer="rocket", seed="-1", hidden="64")
    notices = [w.value for w in at.warning if "could not be used" in w.value]
    assert len(notices) == 1, warnings(at)
    said = plain(notices[0])
    for line in ("epochs = -5: epochs must be from 1 to 200", "batch = 999999: batch size must be from 1 to 8192",
                 "dropout = 7: dropout must be from 0.0 to 0.8", "optimizer = rocket: optimizer must be one of sgd, "
                 "momentum, nesterov, adam", "seed = -1: seed must be from 0 to 2147483647"):
        assert line in said, said
    assert "hidden" not in said  # a good value is used, not listed
    assert at.text_input(key="t_hidden").value == "64" and at.number_input(key="t_epochs").value == 10
    # The notice stays while the visitor works on the page, until dismissed.
    at.number_input(key="t_batch").set_value(64).run()
    assert any("could not be used" in w.value for w in at.warning)
    at.button(key="dismiss_refused").click().run()
    assert not any("could not be used" in w.value for w in at.warning)


def test_a_hostile_link_value_is_shown_as_text_and_cut_short(mnist):
    hostile = "![x](http://evil.example/x.png) :red[**expired**] <b>" + "z" * 500
    at = open_app("train", optimizer=hostile)
    notice = next(w.value for w in at.warning if "could not be used" in w.value)
    assert "![x](" not in notice and ":red[" not in notice and "<b>" not in notice  # escaped
    shown = plain(notice)
    assert "optimizer = ![x](http://evil.example/x.png) :red[**…: optimizer must be one of" in shown, shown
    assert "z" * 50 not in shown


def test_train_says_the_settings_are_in_the_sidebar(mnist):
    at = open_app("train")
    hints = [i.value for i in at.info if "settings are in the sidebar" in i.value]
    assert len(hints) == 1
    styles = [h.proto.body for h in at.get("html") if "sidebar_hint" in h.proto.body]
    assert styles and 'data-collapsed="false"' in styles[0]  # hidden while the sidebar is open


# -- Inspect: why the training curves sit below validation ------------------------------------------


def test_inspect_explains_why_the_shipped_models_training_curves_look_worse(mnist):
    at = open_app("inspect")
    notes = [c.value for c in at.caption if c.value.startswith("Why training looks worse than validation")]
    assert len(notes) == 1
    assert all(word in notes[0] for word in ("augmentation", "dropout", "no digit"))


def test_curves_note_only_when_training_made_batches_harder():
    from webapp.views.display import curves_note

    assert curves_note({}) is None
    assert curves_note({"training": {"dropout": 0.0, "augment": None}}) is None
    assert "dropout" in curves_note({"training": {"dropout": 0.2}})
    assert "augmentation" in curves_note({"training": {"augment": {"max_shift": 2.0}}})
    assert "no digit" in curves_note({"training": {"negatives": 24000}})
    assert "no digit" in curves_note({"training": {}, "unsure": {"threshold": 0.45}})
    assert curves_note({"training": "garbage", "unsure": ["x"]}) is None


# -- Upload: a refused file does not stay listed ----------------------------------------------------


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


# -- no page points to README --------------------------------------------------------------------------


def test_no_page_text_points_to_the_readme():
    sources = [*ROOT.glob("app_pages/*.py"), *ROOT.glob("webapp/**/*.py"), ROOT / "app.py"]
    pointing = [str(p.relative_to(ROOT)) for p in sources if "README" in p.read_text()]
    assert not pointing, f"these point visitors to README (point to docs/ instead): {pointing}"


# -- a run just started becomes the selection once it has a model --------------------------------------


def test_a_new_run_is_selected_once_it_has_a_model_unless_the_visitor_chose_meanwhile():
    at = open_app()
    waiting = ModelEntry("My model 1", ModelKind.TRAINED)  # no epoch finished yet: nothing to show
    at.session_state["models"]["My model 1"] = waiting
    at.session_state["select_when_ready"] = "My model 1"
    at.run()
    assert at.selectbox(key="draw_model").value == "Pretrained"
    waiting.model = MLP([784, 16, 10], seed=1)  # its first epoch
    at.switch_page("app_pages/inspect.py").run()
    assert at.selectbox(key="inspect_model").value == "My model 1"
    assert at.session_state["select_when_ready"] is None

    at.session_state["models"]["My model 2"] = later = ModelEntry("My model 2", ModelKind.TRAINED)
    at.session_state["select_when_ready"] = "My model 2"
    at.run()
    at.selectbox(key="inspect_model").set_value("Pretrained").run()  # the visitor's own choice, meanwhile
    later.model = MLP([784, 16, 10], seed=2)
    at.run()
    assert at.selectbox(key="inspect_model").value == "Pretrained"
