"""Words for what the pages show. Pure: no Streamlit."""

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from mlp import hyperparams
from mlp.unsure import AMBIGUOUS, NO_CLASS, Verdict


class Reading(NamedTuple):
    """What Draw shows of one reading: the Prediction and Confidence metrics, and the unsure note (or None)."""

    prediction: str
    confidence: str
    note: str | None


def reading(verdict: Verdict, class_names: Sequence[str], noun: str = "digit") -> Reading:
    """The words for an mlp.unsure Verdict: the large Prediction slot names a class only when the network is sure.

    Ambiguous: "4 or 9?"; no class at all: "?", the note saying so and giving the best guess.
    """
    confidence = f"{verdict.confidence:.1%}"
    message = verdict.message(class_names, noun)
    if verdict.kind == AMBIGUOUS:
        a, b = (class_names[c] for c in verdict.candidates)
        return Reading(f"{a} or {b}?", confidence, message)
    if verdict.kind == NO_CLASS:
        return Reading("?", confidence, f"{message} (best guess {class_names[verdict.best]}, at {confidence})")
    return Reading(class_names[verdict.best], confidence, None)


def settings_rows(training: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows for a model's training settings, labelled as the Train page labels them.

    Lists show as "256, 128"; augmentation settings follow the others, prefixed "Augmentation:".
    Keys the table does not know (older or newer files) keep their own name.
    """
    rows = []
    for key, value in training.items():
        if key == "augment":
            continue
        rows.append((_label(key), _text(value)))
    augment = training.get("augment")
    if isinstance(augment, dict):
        rows += [(f"Augmentation: {_label(k).lower()}", _text(v)) for k, v in augment.items()]
    elif "augment" in training:
        rows.append(("Augmentation", "off"))
    return rows


def _label(key: str) -> str:
    param = hyperparams.PARAMS.get(key)
    return param.label if param is not None else key.replace("_", " ").capitalize()


def _text(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    return "—" if value is None else str(value)


def settings_summary(training: object) -> str:
    """A training config (dict) in a few words: 'adam, lr 0.001, batch 128, dropout 0.2, augmented'."""
    if not isinstance(training, dict):
        return ""
    words = [str(training.get("optimizer", "?")), f"lr {training.get('lr', '?')}",
             f"batch {training.get('batch_size', '?')}"]
    if training.get("dropout"):
        words.append(f"dropout {training['dropout']}")
    if training.get("weight_decay"):
        words.append(f"L2 {training['weight_decay']}")
    if training.get("schedule") not in (None, "constant"):
        words.append(f"{training['schedule']} schedule")
    if training.get("augment"):
        words.append("augmented")
    if n := _teachers(training):
        words.append(f"distilled from {n} network{'s' if n > 1 else ''}")
    return ", ".join(words)


def _teachers(training: Mapping[str, Any]) -> int:
    """How many networks a run learnt from (the command line's --teacher: their digests, comma-separated)."""
    teachers = training.get("teachers")
    return len(teachers.split(",")) if isinstance(teachers, str) and teachers.strip() else 0


def shorten(text: object, limit: int = 40) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut (for a visitor's text quoted in a message)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def curves_note(meta: Mapping[str, Any]) -> str | None:
    """Why a model's training curves sit below its validation curves, when its training made the training
    batches harder than the validation images (augmentation, dropout, drawings that are no digit); else None.

    The training loss and accuracy are measured on the batches as trained, validation on clean images.
    """
    training = found if isinstance(found := meta.get("training"), dict) else {}
    unsure = found if isinstance(found := meta.get("unsure"), dict) else {}
    reasons = []
    if isinstance(training.get("augment"), dict) and training["augment"]:
        reasons.append("augmentation (each digit shifted, rotated, scaled, slanted or thickened at random)")
    if _positive(training.get("dropout")):
        reasons.append(f"dropout (a {training['dropout']:.0%} share of the hidden units switched off at each step)")
    # The command line calibrates the "not sure" threshold only for runs trained with --negatives, and the
    # shipped model's settings predate the "negatives" key: a calibrated threshold means negatives too.
    if _positive(training.get("negatives")) or "threshold" in unsure:
        reasons.append("drawings that are no digit (letters, scribbles), whose target is the same 10% for every "
                       "class: their loss cannot fall below 2.3 (the accuracy leaves them out)")
    if _teachers(training):
        reasons.append("targets mixed with other networks' readings (distillation): a target spread over several "
                       "classes keeps the loss above 0")
    if not reasons:
        return None
    return ("Why training looks worse than validation: the training curves are measured on the training batches "
            f"as the network learnt from them, made harder on purpose by {'; '.join(reasons)}. Validation uses "
            "clean images, as the test set does: compare models by the validation curves and the test accuracy.")


# -- what the pictures show, in words: the alt text a screen reader reads for each st.image -----------


def article(label: object) -> str:
    """'a' or 'an' before a class name read aloud: 'an 8', 'a 4', 'an Ankle boot'."""
    return "an" if str(label)[:1].lower() in ("a", "e", "i", "o", "8") else "a"


def test_image_alt(index: int, true_label: str, predicted_label: str | None = None) -> str:
    """'test image 123: a 4 read as 9' (or 'test image 123: a 4' without a reading)."""
    said = f"test image {index}: {article(true_label)} {true_label}"
    return said if predicted_label is None else f"{said} read as {predicted_label}"


def compared_image_alt(index: int, true_label: str, label_a: str, label_b: str) -> str:
    """A test image in Inspect's comparison: 'test image 123: a 4, read as 9 by model A and as 4 by model B'."""
    return f"{test_image_alt(index, true_label)}, read as {label_a} by model A and as {label_b} by model B"


def weight_tiles_alt(units: int, epoch: int | None = None) -> str:
    """The first-layer weight tiles of `units` hidden units (after `epoch`, for a replay)."""
    when = f" after epoch {epoch}" if epoch is not None else ""
    tiles = "one 28×28 tile" if units == 1 else f"{units:,} hidden units as 28×28 tiles"
    return f"First-layer weights{when}: {tiles}, red where ink pushes a unit up, blue where it pulls it down"


def unit_grid_alt(layer: int, active: int, units: int) -> str:
    """One hidden layer's activations as a grid of squares (Draw's Inside the network)."""
    return (f"Layer {layer}'s {units:,} hidden units as a grid of squares, {active:,} of them lit by the drawing: "
            "the brighter the square, the more active the unit")


def drawing_alt(drawn: bool, linked: bool = False) -> str:
    """The 28×28 input Draw shows beside the reading."""
    if not drawn:
        return "An empty 28×28 input: nothing drawn yet"
    whose = "the link's drawing" if linked else "the drawing"
    return f"The 28×28 image the network read: {whose} in white on black, cropped, scaled and centred"
