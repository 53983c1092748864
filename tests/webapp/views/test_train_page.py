"""The Train page through streamlit.testing.v1.AppTest: the sidebar's settings and what it says of bad ones
(typed or from a link), and runs on a subset of MNIST: Start, Stop, Pause and Resume, Continue."""

import pytest

from harness.apptest import clear_caches, metrics, open_app, plain, wait_for


def warnings(at):
    return [w.value for w in at.warning]


# -- the sidebar -----------------------------------------------------------------------------------


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


def test_settings_whose_run_could_never_fit_a_training_worker_are_explained(mnist, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_WORKER_MEMORY_MB", "1024")
    clear_caches()
    at = open_app("train")
    at.text_input(key="t_hidden").input("2048, 2048").run()  # 22 MB of weights: within the limit per model
    at.number_input(key="t_batch").set_value(8192).run()  # but its batches' activations would not fit a worker
    assert any("more than the 1,024 MB a worker has here: use smaller batches" in plain(e.value)
               for e in at.sidebar.error), [e.value for e in at.sidebar.error]
    assert at.button(key="start").disabled
    at.number_input(key="t_batch").set_value(128).run()
    assert not at.sidebar.error and not at.button(key="start").disabled


def test_settings_whose_run_could_never_fit_a_browsers_memory_share_are_explained(mnist, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CLIENT_MEMORY_MB", "64")
    clear_caches()
    at = open_app("train")
    at.text_input(key="t_hidden").input("2048, 2048").run()  # 22 MB of weights, a few copies: over 64 MB
    assert any("more than the 64 MB one browser may use: use a smaller network" in plain(e.value)
               for e in at.sidebar.error), [e.value for e in at.sidebar.error]
    assert at.button(key="start").disabled
    at.text_input(key="t_hidden").input("256").run()
    assert not at.sidebar.error and not at.button(key="start").disabled


def test_batch_larger_than_subset_is_explained(mnist):
    at = open_app("train")
    at.toggle(key="t_use_subset").set_value(True).run()
    at.number_input(key="t_subset").set_value(100).run()
    at.number_input(key="t_batch").set_value(512).run()
    assert any("batch_size 512 is larger than the 90 training samples" in plain(e.value) for e in at.sidebar.error)
    assert at.button(key="start").disabled


def test_train_says_the_settings_are_in_the_sidebar(mnist):
    at = open_app("train")
    hints = [i.value for i in at.info if "settings are in the sidebar" in i.value]
    assert len(hints) == 1
    styles = [h.proto.body for h in at.get("html") if "sidebar_hint" in h.proto.body]
    assert styles and 'data-collapsed="false"' in styles[0]  # hidden while the sidebar is open


# -- a shared link's settings, and the values it holds that the sidebar cannot take ----------------


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


# -- runs ------------------------------------------------------------------------------------------


LONG_RUN = 50  # epochs


def small_run(at, epochs=2, subset=3000, hidden="32"):
    at.text_input(key="t_hidden").input(hidden).run()
    at.toggle(key="t_use_subset").set_value(True).run()
    at.number_input(key="t_subset").set_value(subset).run()
    at.number_input(key="t_epochs").set_value(epochs).run()
    assert not at.button(key="start").disabled
    at.button(key="start").click().run()
    assert not at.exception, at.exception


@pytest.mark.slow  # trains on MNIST
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
    small_run(at, epochs=LONG_RUN, subset=20000, hidden="256")
    job = at.session_state["models"]["My model 1"].job
    wait_for(at, lambda at: len(job.records) >= 1)
    return at, job


@pytest.mark.slow  # trains on MNIST
def test_stop_keeps_the_last_finished_epoch(mnist):
    at, job = long_run_with_an_epoch_done()
    at.button(key="stop").click().run()
    wait_for(at, lambda at: job.done)  # the page waits 1.5 s for the worker; a busy machine may take longer
    assert job.state == "stopped"
    assert 1 <= len(job.records) < LONG_RUN
    at.run()
    assert any("Stopped after" in w.value for w in at.warning)
    model = at.session_state["models"]["My model 1"].current()
    assert len(model.meta["history"]) == len(job.records)


@pytest.mark.slow  # trains on MNIST
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
    wait_for(at, lambda at: job.done)  # the page waits 1.5 s for the worker; a busy machine may take longer
    assert job.state == "stopped"


@pytest.mark.slow  # trains on MNIST
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


@pytest.mark.slow  # trains on MNIST
def test_training_with_augmentation_from_the_sidebar(mnist):
    at = open_app("train")
    at.toggle(key="t_augment").set_value(True).run()
    at.slider(key="t_aug_rotation").set_value(20.0).run()
    small_run(at, epochs=1, subset=2000)
    wait_for(at, lambda at: any("Finished 1 epoch." in s.value for s in at.success))
    training = at.session_state["models"]["My model 1"].current().meta["training"]
    assert training["augment"]["max_rotation"] == 20.0
