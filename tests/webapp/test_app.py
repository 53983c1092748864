"""The app's pages through streamlit.testing.v1.AppTest: widgets driven by key, canvas data injected."""

import functools
import http.server
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from harness import canvas_data_url, canvas_value
from harness.apptest import metrics, open_app, plain, wait_for
from mlp import MLP, ModelFileError, load_model, model_to_bytes
from webapp.session.registry import read_upload

ROOT = Path(__file__).resolve().parents[2]




# -- Draw -------------------------------------------------------------------------------------


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


def test_upload_check_names_the_problem():
    good = MLP([784, 16, 10], seed=1)
    assert read_upload("good.npz", model_to_bytes(good)).layer_sizes == [784, 16, 10]
    with pytest.raises(ModelFileError, match="bad.npz was not loaded: not a model file"):
        read_upload("bad.npz", b"not a model")


# -- Train ------------------------------------------------------------------------------------


def small_run(at, epochs=2, subset=3000, hidden="32"):
    at.text_input(key="t_hidden").input(hidden).run()
    at.toggle(key="t_use_subset").set_value(True).run()
    at.number_input(key="t_subset").set_value(subset).run()
    at.number_input(key="t_epochs").set_value(epochs).run()
    assert not at.button(key="start").disabled
    at.button(key="start").click().run()
    assert not at.exception, at.exception


def test_train_page_renders_every_setting(mnist):
    at = open_app("train")
    keys = {w.key for w in [*at.selectbox, *at.text_input, *at.number_input, *at.slider]}
    assert {"t_dataset", "t_hidden", "t_activation", "t_dropout", "t_optimizer", "t_lr", "t_schedule",
            "t_batch", "t_epochs", "t_l2", "t_val", "t_patience", "t_seed"} <= keys
    assert at.toggle(key="t_use_subset").value is False
    assert not at.button(key="start").disabled
    assert at.button(key="stop").disabled


@pytest.mark.parametrize(
    "key, kind, value, message",
    [
        ("t_hidden", "text_input", "256, -3", "hidden layer sizes must be positive, got -3"),
        ("t_hidden", "text_input", "256, abc", "hidden layer sizes must be whole numbers, got 'abc'"),
        ("t_lr", "text_input", "nan", "learning rate must be a finite number greater than 0"),
        ("t_lr", "text_input", "inf", "learning rate must be a finite number greater than 0"),
        ("t_lr", "text_input", "0", "learning rate must be a finite number greater than 0"),
    ],
)
def test_invalid_settings_are_explained_and_block_start(mnist, key, kind, value, message):
    at = open_app("train")
    getattr(at, kind)(key=key).input(value).run()
    assert any(message in plain(e.value) for e in at.sidebar.error), [e.value for e in at.sidebar.error]
    assert at.button(key="start").disabled


def test_settings_whose_run_could_never_fit_a_browsers_memory_share_are_explained(mnist):
    at = open_app("train")
    at.text_input(key="t_hidden").input("2048, 2048").run()  # 22 MB of weights: within the limit per model
    at.number_input(key="t_batch").set_value(8192).run()  # but its batches' activations would not fit
    assert any("more than the 512 MB one browser may use: use smaller batches" in plain(e.value)
               for e in at.sidebar.error), [e.value for e in at.sidebar.error]
    assert at.button(key="start").disabled
    at.number_input(key="t_batch").set_value(128).run()
    assert not at.sidebar.error and not at.button(key="start").disabled


def test_batch_larger_than_subset_is_explained(mnist):
    at = open_app("train")
    at.toggle(key="t_use_subset").set_value(True).run()
    at.number_input(key="t_subset").set_value(100).run()
    at.number_input(key="t_batch").set_value(512).run()
    assert any("batch_size 512 is larger than the 90 training samples" in plain(e.value) for e in at.sidebar.error)
    assert at.button(key="start").disabled


def test_training_produces_history_points_and_a_model(mnist):
    at = open_app("train")
    small_run(at, epochs=3)
    wait_for(at, lambda at: any("Finished 3 epochs" in s.value for s in at.success))
    entry = at.session_state["models"]["My model 1"]
    history = entry.current().meta["history"]
    assert [r["epoch"] for r in history] == [1, 2, 3]
    assert entry.current().meta["test_accuracy"] > 0.7
    assert len(at.get("vega_lite_chart")) == 2  # loss and accuracy
    assert any(b.label == "Download .npz" for b in at.get("download_button"))
    # The new model is offered on the Draw page, and Inspect opens on it: it is the session's selection.
    at.switch_page("app_pages/draw.py").run()
    assert "My model 1" in at.selectbox(key="draw_model").options[1]
    at.switch_page("app_pages/inspect.py").run()
    assert at.selectbox(key="inspect_model").value == "My model 1"
    assert metrics(at)["Epochs trained"] == "3"


def long_run_with_an_epoch_done():
    """The Train page with a 50-epoch run started and its first epoch finished: (app, job)."""
    at = open_app("train")
    small_run(at, epochs=50, subset=20000, hidden="256")
    job = at.session_state["models"]["My model 1"].job
    wait_for(at, lambda at: len(job.records) >= 1)
    return at, job


def test_stop_keeps_the_last_finished_epoch(mnist):
    at, job = long_run_with_an_epoch_done()
    at.button(key="stop").click().run()
    assert job.done and job.state == "stopped"
    assert 1 <= len(job.records) < 50
    at.run()
    assert any("Stopped after" in w.value for w in at.warning)
    model = at.session_state["models"]["My model 1"].current()
    assert len(model.meta["history"]) == len(job.records)


def test_pause_and_resume(mnist):
    at, job = long_run_with_an_epoch_done()
    at.button(key="pause").click().run()
    assert job.pause_requested
    wait_for(at, lambda at: any("Paused after" in i.value for i in at.info))
    held = len(job.records)
    assert not at.button(key="stop").disabled and at.button(key="start").disabled
    assert any(b.label == "Download .npz" for b in at.get("download_button"))  # the model so far
    at.button(key="resume").click().run()
    assert not job.pause_requested
    wait_for(at, lambda at: len(job.records) > held)
    assert at.button(key="pause")  # the button is back to Pause
    at.button(key="stop").click().run()
    assert job.done and job.state == "stopped"


def test_continue_trains_a_new_model_says_how_many_epochs_in_all_and_keeps_the_original(mnist):
    at = open_app("train")
    small_run(at, epochs=1)
    wait_for(at, lambda at: any("Finished 1 epoch." in s.value for s in at.success))
    at.number_input(key="cont_epochs").set_value(2).run()
    at.button(key="continue").click().run()
    wait_for(at, lambda at: any("Finished 2 more epochs, 3 in all." in s.value for s in at.success))
    models = at.session_state["models"]
    assert list(models) == ["My model 1", "My model 1 (continued)"]
    assert [r["epoch"] for r in models["My model 1"].current().meta["history"]] == [1]
    assert [r["epoch"] for r in models["My model 1 (continued)"].current().meta["history"]] == [1, 2, 3]
    listed = [md.value for md in at.markdown if md.value.startswith("**My model 1")]
    assert len(listed) == 2, listed  # Your models keeps both
    assert at.selectbox(key="cont_model").options == ["My model 1", "My model 1 (continued)"]
    at.switch_page("app_pages/inspect.py").run()
    assert at.selectbox(key="inspect_model").value == "My model 1 (continued)"


# -- Inspect ------------------------------------------------------------------------------------


def test_inspect_summary_and_weights(mnist):
    at = open_app("inspect")
    m = metrics(at)
    shipped = load_model(ROOT / "models" / "default.npz")
    assert m["Hidden layers"] == " · ".join(map(str, shipped.layer_sizes[1:-1]))
    assert any(c.value.startswith("Layers " + " → ".join(map(str, shipped.layer_sizes)) + ",") for c in at.caption)
    assert m["Parameters"] == f"{shipped.n_parameters:,}"
    assert m["Test accuracy"].endswith("%")
    assert len(at.get("image")) >= 1  # the first-layer weight grid


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


# -- Without the dataset -------------------------------------------------------------------------


@pytest.fixture
def no_dataset(monkeypatch, tmp_path):
    import data.catalog as catalog
    monkeypatch.setenv("MLP_DATA_DIR", str(tmp_path / "nothing"))
    monkeypatch.setattr(catalog, "PROJECT_DATA_DIR", tmp_path / "project")
    monkeypatch.setattr(catalog, "SYSTEM_DATA_DIR", tmp_path / "system")
    return tmp_path


def test_app_works_without_the_dataset(no_dataset, mnist):
    at = open_app()
    at.session_state["canvas"] = canvas_value(canvas_data_url(mnist.x_test[0]))
    at.run()
    assert metrics(at)["Prediction"] == "7"  # Draw needs only the shipped model
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    assert any("MNIST digits is not available on this server" in w.value for w in at.warning)
    assert at.button(key="start").disabled
    assert at.button(key="download-mnist")
    at.switch_page("app_pages/inspect.py").run()
    assert not at.exception
    assert any("not available" in w.value for w in at.warning)
    assert metrics(at)["Parameters"].replace(",", "").isdigit()  # the summary still works


def test_download_button_fetches_the_dataset(no_dataset, monkeypatch, mnist):
    import data.catalog as catalog

    root = Path(mnist.source)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.delenv(var, raising=False)
        spec = replace(catalog.DATASETS["mnist"], mirrors=(f"http://127.0.0.1:{server.server_port}/",))
        monkeypatch.setitem(catalog.DATASETS, "mnist", spec)
        at = open_app("train")
        from webapp.session import resources

        at.button(key="download-mnist").click().run()
        assert not at.exception, at.exception
        assert resources.downloads().wait("mnist", timeout=60).state == "done"  # in the background
        at.run()
        assert not at.button(key="start").disabled
        assert sorted(p.name for p in (no_dataset / "project" / "mnist").iterdir()) == sorted(spec.filenames())
    finally:
        server.shutdown()


def test_training_with_augmentation_from_the_sidebar(mnist):
    at = open_app("train")
    at.toggle(key="t_augment").set_value(True).run()
    at.slider(key="t_aug_rotation").set_value(20.0).run()
    small_run(at, epochs=1, subset=2000)
    wait_for(at, lambda at: any("Finished 1 epoch." in s.value for s in at.success))
    training = at.session_state["models"]["My model 1"].current().meta["training"]
    assert training["augment"]["max_rotation"] == 20.0
