"""What the refactored pages show, through streamlit.testing.v1.AppTest (no browser)."""

import json
from pathlib import Path

import pyarrow as pa
import pytest

from harness.apptest import clear_caches, metrics, open_app
from mlp import MLP, load_model
from webapp.registry import ModelEntry

ROOT = Path(__file__).resolve().parent.parent
UNAVAILABLE = "The link you opened names a model that is not available here"


@pytest.fixture(autouse=True)
def fresh_caches():
    """Each test starts from an empty process-wide cache, as a fresh server would."""
    clear_caches()
    yield
    clear_caches()


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
    entry = ModelEntry("Uploaded 1", "uploaded", model=upload)
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
    at.session_state["models"]["Uploaded 1"] = ModelEntry("Uploaded 1", "uploaded", model=MLP([784, 16, 10], seed=3))
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
