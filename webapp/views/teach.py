"""The Draw page's side of reading your handwriting: doubt, corrections, Your drawings, Teach the model.

`reading` words a reading so that the Prediction metric names a class only when the network is
sure ("4 or 9?" or "?" otherwise, mlp.unsure); `recall` reads with a taught model's memory of the
drawings it was taught (mlp.memory), and `reading_notes` says under the reading why it is unsure and
how far it leans on those drawings. `section` offers, for digit models only, "Wrong? It's a …" under
the reading (one click keeps the drawing with that digit), the Your drawings expander (thumbnails,
delete, Clear all) and Teach the model: a copy of the selected model fine-tuned on the drawings, with
a memory of them, in a training worker (webapp.training.start.start_teaching, queued like training),
selected when it is done. The
drawings live in this session only (webapp.training.teaching.Drawings), never in another visitor's, unless
the user keeps them: **Keep my drawings** stores them in the shared store under an unguessable id
and puts `mine=<id>` in the address bar; whoever opens that link gets them merged into their Your
drawings. Nothing lists kept drawings, and saving again from the same session updates the same link.
"""

import hashlib
from collections.abc import Sequence

import streamlit as st
from numpy.typing import ArrayLike
from streamlit.delta_generator import DeltaGenerator

from data import DatasetError, DatasetNotFound
from mlp import MLP
from mlp.explain import Trace
from mlp.memory import Recall
from mlp.unsure import judge, threshold_of
from webapp import images, settings, text
from webapp.session import keys, registry, resources
from webapp.session.budget import BudgetError
from webapp.session.registry import ModelEntry
from webapp.store import StoreError, StoreUnavailable
from webapp.training.job import TrainingJob
from webapp.training.memory import memory_bytes, model_bytes
from webapp.training.protocol import JobState
from webapp.training.sources import replay_source
from webapp.training.start import start_teaching
from webapp.training.status import plural
from webapp.training.teaching import MAX_DRAWINGS, MIN_DRAWINGS, Drawings, DrawingsError, Merged, kept_note, memory_note
from webapp.views import display, share

NOUNS = {"mnist": "digit", "fashion-mnist": "clothing item"}
MINE_PARAM = "mine"  # the address bar's id of a user's kept drawings
PRIVATE = "Anyone with this link can load these drawings; they are not listed anywhere."
SHOWN = 40  # thumbnails drawn at once, newest first: the page reruns on every stroke while they are open
THUMB_SCALE = 2  # 28x28 drawn at 56x56, each pixel a 2x2 block, without smoothing
TEACH_SEED = 0  # the same drawings and model teach the same model
# A memory's pull on a reading (mlp.memory) that Draw mentions: from a half, the memory outweighs the network, and
# the reading is then nearly always sure (its top probability at least a half plus half the network's own for that
# digit, over the shipped model's unsure threshold of 0.514 unless the network alone gives the digit under 3%), so
# this badge and the unsure one rarely crowd the reading's box together.
MIN_PULL_SHOWN = 0.5
WORDS = {1: "one drawing", 2: "two drawings", 3: "three drawings"}
OPEN_KEPT = keys.KEPT + keys.DRAWINGS_OPEN  # whether Your drawings is open, across label changes and pages
# The ten pills wrap on a phone (Streamlit scrolls them sideways, hiding the 9 on a 390 px screen).
# Rendered once by the Draw page, outside its fragment (thumbnails are unsmoothed by the page's style).
STYLE = "<style>.st-key-%s [role=radiogroup]{flex-wrap:wrap;gap:0.25rem}</style>" % keys.CORRECTION


def noun(entry: ModelEntry | None) -> str:
    """What a model's classes are called in "That doesn't look like a …"."""
    return NOUNS.get(entry.dataset if entry is not None else "mnist", "known class")


def reading(entry: ModelEntry | None, model: MLP, probs: ArrayLike, labels: Sequence[str]) -> display.Reading:
    """The reading's words (display.Reading): a class in the Prediction slot only when the network is sure."""
    return display.reading(judge(probs, threshold_of(model)), labels, noun(entry))


def recall(model: MLP, traced: Trace) -> Recall | None:
    """How the model's memory of the drawings it was taught reads the traced drawing: the reading with the
    memory mixed in, as model.predict_proba gives it (None: the model keeps no memory)."""
    if model.memory is None or not traced.hidden:
        return None
    return model.memory.recall(traced.hidden[-1], traced.probs)


def reading_notes(note: str | None, recalled: Recall | None, labels: Sequence[str]) -> None:
    """Badges under the reading: unsure (nothing when the reading is sure), and how far it leans on the drawings
    the model was taught (nothing when it keeps no memory, or the drawing is far from all of them)."""
    leaning = memory_badge(recalled, labels)
    if note is None and leaning is None:
        return
    row = st.container(horizontal=True, gap="small")
    if note is not None:
        row.markdown(f":orange-badge[:material/help: {note}]")
    if leaning is not None:
        row.markdown(leaning)


def memory_badge(recalled: Recall | None, labels: Sequence[str]) -> str | None:
    """The badge (markdown) saying a reading leans on a drawing the model was taught, from a pull of
    MIN_PULL_SHOWN; None below it or without a memory."""
    if recalled is None or recalled.strength[0] < MIN_PULL_SHOWN:
        return None
    strength = float(recalled.strength[0])
    digit = labels[int(recalled.digit[0])]
    return (f":blue-badge[:material/school: Close to {display.article(digit)} {digit} it was taught "
            f"(pull {strength:.0%})]")


def drawings() -> Drawings:
    """This session's Drawings, created on first use."""
    return st.session_state.setdefault(keys.DRAWINGS, Drawings())


def section(entry: ModelEntry | None, model: MLP | None, x28: ArrayLike | None) -> None:
    """Corrections, Your drawings and Teach the model, under the reading; nothing for models of other datasets."""
    follow_link()  # before the dataset check: kept drawings are the session's, whatever model is selected
    if entry is None or entry.dataset != "mnist":
        return
    ss = st.session_state
    mine = ss.pop(keys.MINE_NOTICE, None)
    if mine is not None:
        getattr(st, mine[0])(mine[1], icon=":material/gesture:")
    notice = ss.pop(keys.TEACH_NOTICE, None)
    if notice is not None:
        st.toast(notice[1], icon=notice[0])
    if model is not None and x28 is not None:
        _corrections(x28)
    job = ss.get(keys.TEACH_JOB)
    if _collect(job):
        st.rerun()  # the whole page, with the taught model selected
    kept = drawings()
    if not len(kept) and job is None:
        return
    _your_drawings(kept)
    _teach(entry, model, kept, job)


def follow_link() -> None:
    """Merge the drawings a `mine=<id>` link names into this session's, once per link; say what happened.

    An unknown, removed or malformed id changes nothing but the address bar (the id is dropped).
    """
    ss = st.session_state
    wanted = st.query_params.get(MINE_PARAM)
    if not wanted or ss.get(keys.FOLLOWED_MINE) == wanted:
        return
    ss[keys.FOLLOWED_MINE] = wanted
    shared = resources.store()
    try:
        if shared is None:
            raise StoreUnavailable("the shared store is not available right now")
        got = shared.get_collection(wanted)
    except StoreUnavailable:
        ss[keys.MINE_NOTICE] = ("warning", "Keeping drawings is unavailable on this server right now, so the "
                                "drawings this link names cannot be loaded: try the link again later. Your drawings "
                                "are unchanged.")
        ss[keys.FOLLOWED_MINE] = None  # the next page run tries again
        return
    except StoreError as e:
        got = None
        ss[keys.MINE_NOTICE] = ("warning", f"The drawings this link names cannot be loaded: {text.literal(e)}. "
                                "Your drawings are unchanged.")
    if got is None:
        st.query_params.pop(MINE_PARAM, None)
        ss.setdefault(keys.MINE_NOTICE, ("warning", "The drawings this link names are not available here: the link "
                                         "is incomplete or damaged, or they were removed. Your drawings are "
                                         "unchanged."))
        return
    images_, labels, _ = got
    ss[keys.MINE_NOTICE] = ("success", merged_message(drawings().merge(images_, labels)))
    ss[OPEN_KEPT] = True  # show them


def merged_message(merged: Merged) -> str:
    """What loading a link's drawings did, in words (a webapp.training.teaching.Merged)."""
    said = [f"Loaded {plural(merged.added, 'drawing')} from the link into Your drawings."]
    if merged.already:
        said.append(f"{plural(merged.already, 'drawing')} {'was' if merged.already == 1 else 'were'} there already.")
    if merged.left_out:
        said.append(f"{plural(merged.left_out, 'drawing')} did not fit: {MAX_DRAWINGS} is the most one session "
                    "keeps, so delete some and open the link again to load the rest.")
    if merged.refused:
        said.append(f"Skipped {plural(merged.refused, 'drawing')} that could not be read.")
    return " ".join(said)


def _corrections(x28: ArrayLike) -> None:
    """'Wrong? It's a' and the ten digits: a click keeps the drawing with that digit."""
    try:
        kept = drawings().find(x28)
    except DrawingsError:  # e.g. a blank drawing from a link: nothing to keep
        return
    said = f"Wrong? It's a … (kept as a {kept.label})" if kept is not None else "Wrong? It's a …"
    st.pills(said, list(range(10)), key=keys.CORRECTION, on_change=_keep, args=(x28,),
             help="Click the right digit to keep this drawing with it in Your drawings, for teaching the model "
                  "your handwriting. A right reading can be kept too, as an example.")


def _keep(x28: ArrayLike) -> None:
    """The pills' callback: keep the drawing with the digit clicked, reset the pills, say what happened."""
    ss = st.session_state
    digit = ss.get(keys.CORRECTION)
    ss[keys.CORRECTION] = None  # a click, not a choice: the row is ready for the next drawing
    if digit is None:
        return
    kept = drawings()
    try:
        _, relabelled = kept.keep(x28, digit)
    except DrawingsError as e:
        ss[keys.TEACH_NOTICE] = (":material/block:", str(e))
        return
    said = "Now kept as" if relabelled else "Kept as"
    ss[keys.TEACH_NOTICE] = (":material/bookmark_added:", f"{said} a {digit} in Your drawings ({len(kept)})")


def _your_drawings(kept: Drawings) -> None:
    """The expander of thumbnails, each with its digit and a delete button, and Clear all; drawn only while open."""
    # The label carries the count, and a new label is a new expander to Streamlit: it opens as
    # `expanded` says, so the state is remembered beside it (a delete must not close the box).
    box = st.expander(f"Your drawings ({len(kept)})", key=keys.DRAWINGS_OPEN, on_change=_remember_open,
                      expanded=st.session_state.get(OPEN_KEPT, False), icon=":material/gesture:")
    if not box.open:
        return
    with box:
        st.caption("They stay in this browser session only: no one else sees them, and they are gone when you "
                   "leave, unless you keep them by link (below). Teaching uses every one of them.")
        if kept.full:
            st.warning(f"{MAX_DRAWINGS} drawings is the most one session keeps: delete some to keep new ones.",
                       icon=":material/inventory:")
        if not len(kept):
            return
        grid = st.container(horizontal=True, gap="small", key=f"{keys.ICON_BUTTONS}_drawings")
        newest = list(kept)[::-1]
        for drawing in newest[:SHOWN]:
            cell = grid.container(width="content", gap=None, horizontal_alignment="center")
            cell.image(images.enlarge(drawing.image / 255, scale=THUMB_SCALE, grid=False), width=28 * THUMB_SCALE,
                       alt=f"your drawing kept as {display.article(drawing.label)} {drawing.label}")
            row = cell.container(horizontal=True, vertical_alignment="center", gap=None)
            row.markdown(f"**{drawing.label}**", width="content")
            row.button(f"Delete this drawing of {display.article(drawing.label)} {drawing.label}",
                       key=f"{keys.DELETE_DRAWING}{drawing.id}", icon=":material/close:", type="tertiary",
                       help="Delete this drawing", on_click=_delete, args=(kept, drawing.id))  # words: screen readers
        counts = " · ".join(f"{digit}: {n}" for digit, n in enumerate(kept.counts()))
        shown = f"The newest {SHOWN} of {len(kept)}. " if len(kept) > SHOWN else ""
        row = st.container(horizontal=True, vertical_alignment="center")
        row.button("Clear all", key=keys.CLEAR_DRAWINGS, icon=":material/delete_sweep:", on_click=kept.clear)
        row.caption(f"{shown}Per digit: {counts}")
        _keep_by_link(kept)


def _digest(kept: Drawings) -> str:
    """A fingerprint of the drawings and their labels: whether the kept link still holds what is shown."""
    x, y = kept.arrays()
    return hashlib.sha256(x.tobytes() + y.astype("int64").tobytes()).hexdigest()


def _keep_by_link(kept: Drawings) -> None:
    """'Keep my drawings': store them under a private link (the same link again for this session), and show it."""
    ss = st.session_state
    if st.button("Keep my drawings", key=keys.KEEP_DRAWINGS, icon=":material/bookmark:",
                 help="Store these drawings on this server under a private link, to load them again later or in "
                      "another browser. Keeping them again updates the same link."):
        _keep_in_store(kept)
    saved = ss.get(keys.KEPT_LINK)
    if saved is None:
        return
    changed = "" if saved[1] == _digest(kept) else (
        " You changed your drawings since: **Keep my drawings** again to update the link.")
    st.caption(f"Kept at this private link. {PRIVATE}{changed}")
    st.code(f"{share.app_root()}/?{MINE_PARAM}={saved[0]}", language=None, wrap_lines=True)


def _keep_in_store(kept: Drawings) -> None:
    """Put the drawings in the store (replacing what this session kept before) and the link in the address bar."""
    ss = st.session_state
    shared = resources.store()
    if shared is None:
        st.error("Keeping drawings is not available on this server right now.", icon=":material/cloud_off:")
        return
    x, y = kept.arrays()
    try:
        client = registry.client()
        mine_id = shared.put_collection(x, y, owner=client.token, address=client.address,
                                        replace=ss.get(keys.KEPT_LINK, (None,))[0])
    except StoreError as e:
        st.error(f"Your drawings were not kept: {text.literal(e)}", icon=":material/block:")
        return
    ss[keys.KEPT_LINK] = (mine_id, _digest(kept))
    ss[keys.FOLLOWED_MINE] = mine_id  # this session has them already
    st.query_params[MINE_PARAM] = mine_id


def _remember_open() -> None:
    st.session_state[OPEN_KEPT] = bool(st.session_state.get(keys.DRAWINGS_OPEN))


def _teach(entry: ModelEntry, model: MLP | None, kept: Drawings, job: TrainingJob | None) -> None:
    """Teach the model (or its progress while a teach job runs), and the last teaching's before and after."""
    if job is not None and not job.done:
        st.fragment(_progress, run_every=0.5)()
        return
    row = st.container(horizontal=True, vertical_alignment="center")
    clicked = row.button("Teach the model", key=keys.TEACH, icon=":material/school:",
                         disabled=not kept.ready() or model is None)
    if not kept.ready():
        row.caption(f"Teaching needs at least {WORDS.get(MIN_DRAWINGS, MIN_DRAWINGS)}: keep "
                    f"{MIN_DRAWINGS - len(kept)} more with the digit it should be.")
    else:
        row.caption(f"Fine-tunes a copy of {text.literal(entry.name)} on your {plural(len(kept), 'drawing')}, "
                    "mixed with MNIST digits so it keeps reading the others, and gives it a memory of them, in the "
                    "background. Two or more of a digit also measure it on drawings it has not seen.")
    if clicked and model is not None:  # (the button is disabled without a model)
        _start(entry, model, kept)
        st.rerun()
    _result(job)


def _start(entry: ModelEntry, model: MLP, kept: Drawings) -> None:
    """Start a teach job on the selected model and the drawings (or say why not)."""
    ss = st.session_state
    try:
        ds = resources.dataset("mnist")
    except (DatasetNotFound, DatasetError):
        ss[keys.TEACH_NOTICE] = (":material/cloud_off:", "MNIST is not available on this server: teaching replays "
                                 "its training images, so it waits for the dataset.")
        return
    try:  # the job holds a copy of the model, and the taught one joins this session's models
        cost = 2 * model_bytes(model) + memory_bytes(model, len(kept))
        registry.admit(cost, "teaching a copy of this model", run=True)
    except BudgetError as e:
        ss[keys.TEACH_NOTICE] = (":material/memory:", f"Not taught: {e}.")
        return
    x, y = kept.arrays()
    ss[keys.TEACH_JOB] = resources.budget().track(
        start_teaching(registry.taught_name(entry.name), model, x, y, replay_source(ds), resources.engine(),
                       seed=TEACH_SEED, alive=resources.session_alive(), grace=settings.current().orphan_seconds),
        registry.client())


def _progress() -> None:
    """The teach job under way, refreshed twice a second; the whole page reruns once it is done."""
    job = st.session_state[keys.TEACH_JOB]
    view = job.view()
    if view.done:
        _collect(job)
        st.rerun()
    if view.state == JobState.QUEUED:
        st.info(f"Waiting for a turn on the training workers to teach: number {view.queue_position or 1} in line.",
                icon=":material/hourglass_top:")
    else:
        st.progress(view.progress, text=f"Teaching a copy of the model your handwriting… {view.progress:.0%}")
    st.button("Stop teaching", key=keys.STOP_TEACHING, icon=":material/stop:", on_click=job.stop)


def _collect(job: TrainingJob | None) -> bool:
    """Register and select a completed teach job's model, once; True if it did so now."""
    ss = st.session_state
    if job is None or job.state != JobState.COMPLETED or job.snapshot is None:
        return False
    if ss.get(keys.TAUGHT, (None,))[0] == id(job):
        return False
    entry = registry.add_taught(job.snapshot, job.name)  # the job is named taught_name(base)
    ss[keys.TAUGHT] = (id(job), entry.name)
    return True


def _result(job: TrainingJob | None) -> None:
    """How the last teaching went: the before and after, or why there is no taught model."""
    if job is None:
        return
    view = job.view()
    if view.state == JobState.STOPPED:
        st.warning("Teaching was stopped: no new model was made.", icon=":material/stop:")
        return
    if view.state in (JobState.FAILED, JobState.DIVERGED):
        st.error(f"Teaching failed: {view.error}")
        return
    name = st.session_state.get(keys.TAUGHT, (None, None))[1]
    adapted = job.snapshot.meta.get("adapted", {}) if job.snapshot is not None else {}
    if view.state != JobState.COMPLETED or not adapted:
        return
    st.success(f"**{text.literal(name)}** learnt your {plural(adapted['n_drawings'], 'drawing')} in "
               f"{adapted['seconds']:.1f} s. "
               "It is selected now, and in the model lists of every page.", icon=":material/school:")
    held, mnist = adapted["holdout"], adapted["mnist_test_accuracy"]
    row = st.container(horizontal=True)
    _before_after(row, "Your unseen drawings", held["before"], held["after"], digits=0,
                  help=f"{plural(held['n'], 'drawing')} held out of a short first teaching: the model read "
                       "them before teaching, and after that first teaching, before it had seen them.")
    _before_after(row, "MNIST test", mnist["before"], mnist["after"], digits=2,
                  help="The 10,000 MNIST test digits, before and after teaching: it should not forget them.")
    if not held["n"]:
        st.caption("Keep two or more drawings of a digit to measure the model on drawings it has not seen.")
    for note in (kept_note(adapted), memory_note(adapted)):
        if note:
            st.caption(note)
    entry = registry.session_models().get(name)
    if entry is not None:
        st.download_button("Download the taught model (.npz)", entry.file_bytes, key="dl-taught",
                           file_name=entry.file_name(),
                           mime="application/octet-stream", icon=":material/download:")


def _before_after(row: DeltaGenerator, label: str, before: float | None, after: float | None, digits: int,
                  help: str) -> None:
    """A metric: the accuracy after (with `digits` decimals, in %), and the change from before in points."""
    if after is None:
        row.metric(label, "–", help=help)
        return
    delta = f"{(after - before) * 100:+.{digits}f} points from {before:.{digits}%}" if before is not None else None
    row.metric(label, f"{after:.{digits}%}", delta=delta, help=help)


def _delete(kept: Drawings, drawing_id: int) -> None:
    """The delete button's callback (Streamlit's on_click wants no return value)."""
    kept.delete(drawing_id)
