"""The Train page's view of a run (webapp/training/status.py): no Streamlit, no MNIST, no worker."""

import pytest

from webapp.training.job import JobView
from webapp.training.protocol import JobState
from webapp.training.status import Controls, Status, controls, plural, selector_label, short_label, status


def view(state, **fields):
    """A JobView of a 10-epoch run named 'My model 1' in `state`."""
    base = {"name": "My model 1", "state": JobState(state), "epochs_done": 0, "epochs_total": 10,
            "pause_requested": False, "queue_position": None, "progress": 0.0, "eta_seconds": None,
            "samples_per_second": None, "error": None, "test_accuracy": None, "orphaned": False}
    return JobView(**{**base, **fields})


def test_plural():
    assert (plural(1, "epoch"), plural(0, "epoch"), plural(3, "finished epoch")) == (
        "1 epoch", "0 epochs", "3 finished epochs")


def test_start_only_when_no_run_is_under_way():
    assert controls(None) == Controls(start=True, pause=False, resume=False, stop=False)
    for state in ("completed", "stopped", "early_stopped", "diverged", "failed"):
        idle = Controls(start=True, pause=False, resume=False, stop=False)
        assert controls(view(state, pause_requested=True)) == idle
    for state in ("queued", "running", "paused", "evaluating"):
        c = controls(view(state))
        assert not c.start and c.stop, state


def test_pause_is_offered_from_the_moment_a_run_starts():
    # After Start the page's full rerun often sees the run still queued (the worker not
    # started yet); Pause must be usable then, not only once the state reads "running".
    assert controls(view("queued", queue_position=1)) == Controls(start=False, pause=True, resume=False, stop=True)
    assert controls(view("running")).pause
    assert not controls(view("evaluating")).pause  # nothing left to pause


def test_resume_replaces_pause_once_a_pause_is_asked_for():
    for state in ("queued", "running", "paused"):
        assert controls(view(state, pause_requested=True)) == Controls(start=False, pause=False, resume=True, stop=True)
    # A pause asked for during the last epoch changes nothing: the run is being scored.
    assert controls(view("evaluating", pause_requested=True)) == Controls(start=False, pause=False, resume=False,
                                                                           stop=True)


def test_status_of_a_run_under_way():
    assert status(None) == Status("info", "No training run yet. Choose settings in the sidebar and press **Start**.")
    assert status(view("queued", queue_position=2)) == Status(
        "info", "Waiting for a turn on the training workers: number 2 in line. Runs take turns an epoch at a time, "
        "so it starts before others' runs finish.")
    assert status(view("queued", queue_position=3, wait_seconds=41.6)).text.endswith("Starts in about 42 s.")
    assert status(view("queued", queue_position=30, wait_seconds=400)).text.endswith("Starts in about 7 min.")
    assert status(view("paused", epochs_done=3)) == Status(
        "info", "Paused after 3 of 10 epochs. **Resume** goes on from there; meanwhile the model so far is in the "
        "Draw and Inspect lists.", icon=":material/pause:")
    assert status(view("running", progress=0.05)) == Status("progress", "Epoch 1 of 10", 0.05)
    assert status(view("running", epochs_done=3, progress=0.35, eta_seconds=12.4, samples_per_second=54321.0,
                       pause_requested=True)) == Status(
        "progress", "Epoch 4 of 10 · about 12 s left · 54,321 samples/s · pausing after this epoch", 0.35)
    assert status(view("running", epochs_done=3, progress=0.35, sharing=5)).text == (
        "Epoch 4 of 10 · taking turns with 5 other runs")
    assert status(view("running", epochs_done=10, progress=1.0)).text == "Epoch 10 of 10"
    assert status(view("evaluating", epochs_done=10)) == Status("progress", "Scoring the model on the test set…", 1.0)


def test_status_of_a_finished_run():
    assert status(view("completed", epochs_done=1, test_accuracy=0.9812)) == Status(
        "success", "Finished 1 epoch. Test accuracy **98.12%**.")
    assert status(view("completed", epochs_done=3)).text == "Finished 3 epochs."
    assert status(view("early_stopped", epochs_done=4, test_accuracy=0.5)) == Status(
        "success", "Stopped early: validation loss stopped improving. Test accuracy **50.00%**.")
    assert status(view("stopped", epochs_done=2, test_accuracy=0.25)) == Status(
        "warning", "Stopped after 2 finished epochs; the model keeps the last one. Test accuracy **25.00%**.")
    assert status(view("stopped", epochs_done=1)).text == (
        "Stopped after 1 finished epoch; the model keeps the last one.")
    assert status(view("stopped")) == Status(
        "warning", "Stopped before the first epoch finished: there is no trained model from this run.")
    diverged = view("diverged", epochs_done=1, error="training diverged: try a smaller learning rate",
                    test_accuracy=0.1)
    assert status(diverged) == Status(
        "error", "training diverged: try a smaller learning rate Test accuracy **10.00%**.")
    assert status(view("failed", error="disk on fire")) == Status("error", "Training failed: disk on fire")


@pytest.mark.parametrize("state", list(JobState))
def test_every_state_has_a_status_and_labels(state):
    v = view(state, epochs_done=2)
    assert status(v).kind in ("info", "progress", "success", "warning", "error")
    assert (short_label(v) is None) == v.done == (selector_label(v) is None)


def test_labels_of_a_run_under_way():
    assert short_label(None) is None
    assert short_label(view("queued", queue_position=1)) == "My model 1 (waiting for a turn)"
    assert short_label(view("running", epochs_done=2)) == "My model 1 (training…)"
    assert short_label(view("paused")) == "My model 1 (paused)"
    assert short_label(view("evaluating")) == "My model 1 (scoring on the test set…)"
    assert selector_label(view("running", epochs_done=3)) == "My model 1 (training… 3/10 epochs)"
    assert selector_label(view("paused", epochs_done=3)) == "My model 1 (paused at 3/10 epochs)"


class OneRead:
    """A job whose state changes on every view() call, as a relay thread might between two reads."""

    def __init__(self, *views):
        self.views = iter(views)

    def view(self):
        return next(self.views)


def test_one_view_gives_the_list_and_the_panel_the_same_state():
    job = OneRead(view("queued", queue_position=1), view("running", epochs_done=2, progress=0.25))
    v = job.view()  # read once per page run; everything shown derives from it
    assert status(v).kind == "info" and short_label(v).endswith("(waiting for a turn)")
    assert controls(v).pause
    assert status(job).text.startswith("Epoch 3 of 10")  # a job is read when passed


def test_status_of_a_continued_run_counts_more_epochs_and_all_of_them():
    """Continuing a 6-epoch model by 5: the chart shows 11 epochs, and the words say so."""
    more = {"epochs_total": 5, "epochs_before": 6}
    assert status(view("completed", epochs_done=5, test_accuracy=0.97, **more)).text == (
        "Finished 5 more epochs, 11 in all. Test accuracy **97.00%**.")
    assert status(view("running", epochs_done=2, progress=0.4, **more)).text == "Epoch 3 of 5 more (9 of 11 in all)"
    assert status(view("paused", epochs_done=2, **more)).text.startswith("Paused after 2 of 5 more epochs, 8 in all.")
    assert status(view("stopped", epochs_done=1, **more)).text.startswith(
        "Stopped after 1 more finished epoch, 7 in all; the model keeps the last one.")
    assert status(view("stopped", epochs_done=0, **more)).text == (
        "Stopped before its first epoch finished: this copy is the model as it was.")
    # A first run's words are unchanged.
    assert status(view("completed", epochs_done=10)).text == "Finished 10 epochs."
    assert status(view("running", epochs_done=2)).text == "Epoch 3 of 10"
