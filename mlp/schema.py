"""The one schema a model file's metadata is checked against when it is loaded (mlp.io.load_model).

A model file may come from anyone, so every field the code reads is checked here, once, for
type, range, size and nesting; a field that fails is dropped (and named in the result), never
trusted and never a crash further on. What a field means is documented in mlp.meta; the
training settings are checked by the hyperparameter table itself (mlp.hyperparams), setting by
setting. Fields this version does not know are kept as they are (JSON, nested at most
MAX_DEPTH deep, within the file's metadata size limit).
"""

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal, NoReturn

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import Required, TypedDict

from . import hyperparams

__all__ = ["MAX_DEPTH", "MetadataError", "clean_metadata", "json_depth"]

MAX_DEPTH = 16  # JSON nesting a metadata record may have (a model's needs 4)
MAX_LIST = 100_000  # entries of any list the code reads (epochs of a history, say)
MAX_TEXT = 200  # characters of a text field


class MetadataError(ValueError):
    """Metadata that cannot be read at all (not JSON, nested too deep); the message says why."""


class _Strict(TypedDict):
    strict: bool


_STRICT: _Strict = {"strict": True}
Finite = Annotated[float, Field(allow_inf_nan=False, **_STRICT)]
Fraction = Annotated[float, Field(ge=0, le=1, **_STRICT)]
Count = Annotated[int, Field(ge=0, **_STRICT)]
Text = Annotated[str, Field(max_length=MAX_TEXT, **_STRICT)]
Fractions = Annotated[list[Fraction], Field(max_length=1000)]


NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False, **_STRICT)]


@with_config(ConfigDict(extra="allow"))
class Epoch(TypedDict, total=False):
    """One finished epoch (mlp.config.EpochRecord; files from older versions lack some fields)."""

    epoch: Required[Annotated[int, Field(ge=1, **_STRICT)]]
    train_loss: Finite
    train_accuracy: Fraction
    val_loss: Finite | None
    val_accuracy: Fraction | None
    lr: Finite
    seconds: NonNegative
    val_seconds: NonNegative
    samples_per_second: NonNegative


@with_config(ConfigDict(extra="allow"))
class Scored(TypedDict, total=False):
    """A score on a set of drawings (drawn_digits, pen_digits): how many, and how many read right."""

    n: Count
    accuracy: Fraction
    per_class_accuracy: Fractions


@with_config(ConfigDict(extra="allow"))
class Unsure(TypedDict, total=False):
    """mlp.unsure's record: below `threshold`, a reading is flagged unsure."""

    threshold: Fraction


@with_config(ConfigDict(extra="allow"))
class BeforeAfter(TypedDict, total=False):
    n: Count
    before: Fraction | None
    after: Fraction | None


@with_config(ConfigDict(extra="allow"))
class Adapted(TypedDict):
    """mlp.adapt's record of how a model was taught a user's drawings."""

    n_drawings: Count
    seconds: NonNegative
    holdout: BeforeAfter
    mnist_test_accuracy: BeforeAfter


def _iso_time(value: object) -> str:
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("not a time")
    datetime.fromisoformat(value)
    return value


#: Each field the code reads, and what it must be.
FIELDS: dict[str, TypeAdapter[Any]] = {name: TypeAdapter(kind) for name, kind in {
    "name": Text,
    "dataset": Annotated[str, Field(pattern=r"^[a-z0-9-]{1,40}$", **_STRICT)],
    "class_names": Annotated[list[Annotated[str, Field(max_length=40, **_STRICT)]], Field(max_length=1000)],
    "preprocess_version": Count,
    "history": Annotated[list[Epoch], Field(max_length=MAX_LIST)],
    "outcome": Literal["completed", "stopped", "early_stopped", "diverged"],
    "test_accuracy": Fraction,
    "test_loss": NonNegative,
    "per_class_accuracy": Fractions,
    "drawn_digits": Scored,
    "pen_digits": Scored,
    "unsure": Unsure,
    "adapted": Adapted,
}.items()}
_CREATED = "created"


def json_depth(raw: str) -> int:
    """How deep the JSON text `raw` nests ({ and [), counted without parsing it (strings skipped)."""
    depth = deepest = 0
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', raw):
        c = token.group()
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def _clean_training(value: object, dropped: list[str]) -> dict[str, Any] | None:
    """The training settings whose values the hyperparameter table accepts (the others named in `dropped`)."""
    if not isinstance(value, dict):
        dropped.append("training")
        return None
    clean: dict[str, Any] = {}
    for key, setting in value.items():
        param = hyperparams.TRAIN_PARAMS.get(key)
        if key == "augment":
            if setting is None:
                clean[key] = None
            elif isinstance(setting, dict):
                clean[key] = {k: v for k, v in setting.items()
                              if k in hyperparams.AUGMENT_PARAMS and hyperparams.check(hyperparams.AUGMENT_PARAMS[k], v)
                              is None}
            else:
                dropped.append("training.augment")
        elif param is None:  # a setting outside the table (the command line's --negatives, say): plain values only
            if setting is None or isinstance(setting, (bool, int, float)) or (
                    isinstance(setting, str) and len(setting) <= MAX_TEXT):
                clean[key] = setting
            else:
                dropped.append(f"training.{key}")
        elif hyperparams.check(param, tuple(setting) if isinstance(setting, list) else setting) is None:
            clean[key] = setting
        else:
            dropped.append(f"training.{key}")
    return clean


def clean_metadata(meta: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(metadata with every field the code reads valid, names of the fields dropped), for a parsed record."""
    clean: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in meta.items():
        if key == "training":
            training = _clean_training(value, dropped)
            if training is not None:
                clean[key] = training
            continue
        if key == _CREATED:
            try:
                clean[key] = _iso_time(value)
            except (ValueError, TypeError):
                dropped.append(key)
            continue
        adapter = FIELDS.get(key)
        if adapter is None:
            clean[key] = value
            continue
        try:
            adapter.validate_python(value)
        except ValidationError:
            dropped.append(key)
            continue
        clean[key] = value
    return clean, dropped


def parse(raw: str) -> dict[str, Any]:
    """The metadata record's JSON text as a dict; MetadataError if it is not JSON or nests too deeply."""
    depth = json_depth(raw)
    if depth > MAX_DEPTH:
        raise MetadataError(f"metadata nests {depth:,} levels deep; at most {MAX_DEPTH} are read")
    try:
        meta = json.loads(raw, parse_constant=_no_constant)
    except (json.JSONDecodeError, RecursionError, ValueError) as e:
        raise MetadataError(f"metadata is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise MetadataError("metadata is not a JSON object")
    return meta


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")

