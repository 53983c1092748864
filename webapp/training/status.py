"""What the Train page shows for a training run: its buttons, its live status, its list label.

No Streamlit here. Every function takes one JobView (`job.view()`, webapp/training/job.py), a
snapshot read at one moment, or None when there is no run. A page that reads the view once
per run and passes it to all of them cannot show two states at once (the model list saying
"waiting for a turn" beside a live panel at "Epoch 3 of 3"). A TrainingJob is
accepted too and read once per call.
"""

from typing import NamedTuple, Protocol, TypeAlias

from webapp.training.job import JobView
from webapp.training.protocol import JobState

NO_RUN = "No training run yet. Choose settings in the sidebar and press **Start**."

# The list of models refreshes less often than the live panel, so no epoch count here.
UNDER_WAY = {
    JobState.QUEUED: "waiting for a turn",
    JobState.RUNNING: "training…",
    JobState.PAUSED: "paused",
    JobState.EVALUATING: "scoring on the test set…",
}


class Controls(NamedTuple):
    """Which run buttons are usable. Resume replaces Pause while a pause is asked for."""

    start: bool  # Start enabled (the page also needs valid settings and the dataset)
    pause: bool  # Pause enabled (shown unless `resume`)
    resume: bool  # Resume shown, enabled, in place of Pause
    stop: bool  # Stop enabled


class Status(NamedTuple):
    """The live panel's line: kind is "info", "progress", "success", "warning" or "error"."""

    kind: str
    text: str
    progress: float | None = None  # for kind "progress": the bar's fraction
    icon: str | None = None  # a Streamlit icon name, or None for the kind's default


class HasView(Protocol):
    """A run that can be read: a TrainingJob."""

    def view(self) -> JobView:
        """The run as pages see it, read now."""
        ...


#: What the functions here take: a JobView read once, a run read on each call, or None (no run yet).
Run: TypeAlias = JobView | HasView | None


def plural(n: int, noun: str) -> str:
    """'1 epoch', '3 epochs'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _read(job: Run) -> JobView | None:
    """A JobView from a JobView, a TrainingJob (read now) or None."""
    return job if job is None or isinstance(job, JobView) else job.view()


def controls(job: Run) -> Controls:
    """Controls for `job` (None: no run yet).

    Pause is offered as soon as a run is started, queued or not: a pause asked for before
    the worker trains takes effect after the first epoch. Not while the test set is scored,
    when there is nothing left to pause.
    """
    view = _read(job)
    if view is None or view.done:
        return Controls(start=True, pause=False, resume=False, stop=False)
    scoring = view.state == JobState.EVALUATING
    resume = view.pause_requested and not scoring
    return Controls(start=False, pause=not resume and not scoring, resume=resume, stop=True)


def status(job: Run) -> Status:
    """The live panel's Status for `job` (None: no run yet)."""
    view = _read(job)
    if view is None:
        return Status("info", NO_RUN)
    n, total, before = view.epochs_done, view.epochs_total, view.epochs_before
    score = f" Test accuracy **{view.test_accuracy:.2%}**." if view.test_accuracy is not None else ""
    # A continued model: this run's epochs are "more", and the model's own count goes on from before.
    more = "more " if before else ""
    in_all = f", {before + n} in all" if before else ""
    match view.state:
        case JobState.QUEUED:
            wait = f" Starts in about {_duration(view.wait_seconds)}." if view.wait_seconds is not None else ""
            return Status("info", f"Waiting for a turn on the training workers: number {view.queue_position or 1} in "
                          f"line. Runs take turns an epoch at a time, so it starts before others' runs finish.{wait}")
        case JobState.PAUSED:
            return Status("info", f"Paused after {n} of {total} {more}epochs{in_all}. **Resume** goes on from "
                          "there; meanwhile the model so far is in the Draw and Inspect lists.",
                          icon=":material/pause:")
        case JobState.RUNNING:
            eta = f" · about {view.eta_seconds:.0f} s left" if view.eta_seconds is not None else ""
            speed = f" · {view.samples_per_second:,.0f} samples/s" if view.samples_per_second is not None else ""
            pausing = " · pausing after this epoch" if view.pause_requested else ""
            sharing = f" · taking turns with {plural(view.sharing, 'other run')}" if view.sharing else ""
            epoch = min(n + 1, total)
            where = (f"Epoch {epoch} of {total} more ({before + epoch} of {before + total} in all)" if before
                     else f"Epoch {epoch} of {total}")
            return Status("progress", f"{where}{eta}{speed}{sharing}{pausing}", view.progress)
        case JobState.EVALUATING:
            return Status("progress", "Scoring the model on the test set…", 1.0)
        case JobState.COMPLETED:
            return Status("success", f"Finished {plural(n, more + 'epoch')}{in_all}.{score}")
        case JobState.EARLY_STOPPED:
            return Status("success", f"Stopped early: validation loss stopped improving.{score}")
        case JobState.STOPPED if n:
            return Status("warning", f"Stopped after {plural(n, more + 'finished epoch')}{in_all}; the model keeps "
                          f"the last one.{score}")
        case JobState.STOPPED if before:
            return Status("warning", "Stopped before its first epoch finished: this copy is the model as it was.")
        case JobState.STOPPED:
            return Status("warning",
                          "Stopped before the first epoch finished: there is no trained model from this run.")
        case JobState.DIVERGED:
            return Status("error", f"{view.error}{score}")
        case JobState.FAILED:
            return Status("error", f"Training failed: {view.error}")
    raise ValueError(f"unknown job state {view.state!r}")


def _duration(seconds: float) -> str:
    """'40 s', '3 min' for a wait."""
    return f"{max(1, round(seconds))} s" if seconds < 90 else f"{round(seconds / 60)} min"


def short_label(job: Run) -> str | None:
    """'My model 1 (training…)' for the model list while a run is under way; None once it is done."""
    view = _read(job)
    if view is None or view.done:
        return None
    return f"{view.name} ({UNDER_WAY[view.state]})"


def selector_label(job: Run) -> str | None:
    """'My model 1 (training… 3/10 epochs)' or '(paused at 3/10 epochs)' for model selectors; None once done."""
    view = _read(job)
    if view is None or view.done:
        return None
    doing = "paused at" if view.state == JobState.PAUSED else "training…"
    return f"{view.name} ({doing} {view.epochs_done}/{view.epochs_total} epochs)"
