"""The Inspect page through streamlit.testing.v1.AppTest: the model's summary, weights and settings, the
confusion matrix and the misclassified test images with their filters, and links to a model."""

import json

import pyarrow as pa

from harness import ROOT
from harness.apptest import metrics, open_app
from mlp import MLP, load_model
from webapp.session.registry import ModelEntry, ModelKind

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


# -- the model -------------------------------------------------------------------------------------


def test_inspect_summary_and_weights(mnist):
    at = open_app("inspect")
    m = metrics(at)
    model = shipped()
    assert m["Hidden layers"] == " · ".join(map(str, model.layer_sizes[1:-1]))
    assert any(c.value.startswith("Layers " + " → ".join(map(str, model.layer_sizes)) + ",") for c in at.caption)
    assert m["Parameters"] == f"{model.n_parameters:,}"
    assert m["Test accuracy"].endswith("%")
    assert len(at.get("image")) >= 1  # the first-layer weight grid


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
    assert settings["Learning rate"] == "0.0002"  # its last run's: 15 epochs more at a fifth of the rate
    assert "The settings of its last run (15 epochs), which went on from a model trained 45 epochs before it: " \
           "60 in all." in [c.value for c in at.caption]
    assert settings["Batch size"] == "128"
    assert settings["Hidden layer sizes"] == "1024, 1024"
    assert any(s.startswith("Augmentation: ") for s in settings)
    assert not {"lr", "batch_size", "hidden", "augment"} & set(settings)


def test_a_continued_run_stopped_early_gets_no_note_on_its_last_runs_settings(mnist):
    """Stopped after 5 of 15 epochs on 45 earlier ones: its history (50) cannot say how many came before."""
    model = load_model(ROOT / "models" / "default.npz")
    model.meta["history"] = model.meta["history"][:50]
    model.meta["outcome"] = "stopped"
    at = open_app("inspect")
    at.session_state["models"]["Stopped"] = ModelEntry("Stopped", ModelKind.UPLOADED, model=model)
    at.run()
    at.selectbox(key="inspect_model").set_value("Stopped").run()
    assert not at.exception, at.exception
    assert metrics(at)["Epochs trained"] == "50"
    assert not any(c.value.startswith("The settings of its last run") for c in at.caption)


def test_inspect_explains_why_the_shipped_models_training_curves_look_worse(mnist):
    at = open_app("inspect")
    notes = [c.value for c in at.caption if c.value.startswith("Why training looks worse than validation")]
    assert len(notes) == 1
    assert all(word in notes[0] for word in ("augmentation", "no digit"))
    assert "dropout" not in notes[0]  # the shipped model trained without it


# -- the confusion matrix and the mistakes ---------------------------------------------------------


def mistake_captions(at):
    """The captions under the misclassified test images: "true **4** → **9** · 97.1%"."""
    return [c.value for c in at.caption if c.value.startswith("true **")]


def test_inspect_misclassified_browser_filters_and_url(mnist):
    at = open_app("inspect", true="4", pred="9")
    assert at.query_params["true"] == "4" and at.query_params["pred"] == "9"
    assert at.selectbox(key="f_true").value == 4 and at.selectbox(key="f_pred").value == 9
    captions = mistake_captions(at)
    assert captions and all(c.startswith("true **4** → **9**") for c in captions)
    at.selectbox(key="f_pred").set_value("any").run()
    assert at.query_params["true"] == "4" and "pred" not in at.query_params
    captions = mistake_captions(at)
    assert captions and all(c.startswith("true **4** →") for c in captions)
    sample = next(b for b in at.button if b.key and b.key.startswith("s-"))
    sample.click().run()
    assert at.query_params["sample"] == sample.key[2:]
    assert {"True", "Predicted"} <= set(metrics(at))


def test_inspect_most_confident_mistakes_first(mnist):
    at = open_app("inspect")
    confidences = [float(c.rsplit("·", 1)[1].strip().rstrip("%")) for c in mistake_captions(at)]
    assert len(confidences) == 24
    assert confidences == sorted(confidences, reverse=True)


def test_inspect_class_filters_read_any(mnist):
    at = open_app("inspect")
    for key in ("f_true", "f_pred"):
        box = at.selectbox(key=key)
        assert box.value == "any"
        assert box.options[0] == "any" and box.options[1:] == [str(i) for i in range(10)]
        assert box.index == 0
    assert "true" not in at.query_params and "pred" not in at.query_params


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


# -- a link to a model -----------------------------------------------------------------------------


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
