"""Words for what the pages show. Pure: no Streamlit."""

from mlp import hyperparams


def settings_rows(training):
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


def _label(key):
    param = hyperparams.PARAMS.get(key)
    return param.label if param is not None else key.replace("_", " ").capitalize()


def _text(value):
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    return "—" if value is None else str(value)


def settings_summary(training):
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
    return ", ".join(words)
