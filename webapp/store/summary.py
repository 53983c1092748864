"""What the gallery shows of a shared model: a summary computed once, when it is shared. No SQL."""

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from data import DATASETS
from mlp import MLP
from webapp.images import weight_thumbnail

__all__ = ["summarize"]

MAX_TRAINING_JSON = 8192  # a summary keeps a model's training settings only up to this size


def _finite_fraction(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1:
        return float(value)
    return None


def _iso_time(value: object) -> str | None:
    """`value` as an ISO 8601 time if it is one (a model's own claim), else None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        return datetime.fromisoformat(value).isoformat(timespec="seconds")
    except ValueError:
        return None


def summarize(model: MLP, measured: Mapping[str, float | None] | None = None) -> dict[str, Any]:
    """The summary a gallery shows of a loaded model, from its metadata (which may be hostile: checked); its
    scores from `measured` instead, where given (what the server measured, not what the file claims)."""
    meta = model.meta
    history = found if isinstance(found := meta.get("history"), list) else []
    recorded = [r.get("seconds") for r in history if isinstance(r, dict)]
    seconds = [s for s in recorded if isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s)]
    training = meta.get("training") if isinstance(meta.get("training"), dict) else None
    if training is not None and len(json.dumps(training, default=str)) > MAX_TRAINING_JSON:
        training = None
    drawn, dataset = meta.get("drawn_digits"), meta.get("dataset")
    test = meta.get("test_accuracy")
    drawn = drawn.get("accuracy") if isinstance(drawn, dict) else None
    if measured is not None:
        test, drawn = measured.get("test_accuracy"), measured.get("drawn_accuracy")
    return {
        "architecture": "-".join(str(n) for n in model.layer_sizes) + f" {model.activation}",
        "layer_sizes": list(model.layer_sizes),
        "activation": model.activation,
        "dropout": model.dropout,
        "parameters": int(sum(p.size for p, _, _ in model.parameters())),
        "dataset": dataset if isinstance(dataset, str) and dataset in DATASETS else None,
        "training": training,
        "epochs": len(history),
        "training_seconds": round(float(sum(s for s in seconds if s > 0)), 3),
        "test_accuracy": _finite_fraction(test),
        "drawn_accuracy": _finite_fraction(drawn),
        "measured": measured is not None,  # scores measured by the server (a publish), not the file's claims
        "created": _iso_time(meta.get("created")),
        # The gallery's picture of the model (webapp.images), made now so that listing never loads a model file.
        "thumbnail": weight_thumbnail(model.dense[0].params["W"]),
    }
