"""The Train page's settings: which widgets, their keys and URL names, and the config they yield.

Pure (no Streamlit): everything comes from the hyperparameter table (mlp.hyperparams), so a
new activation, optimizer or setting shows up in the sidebar and in shared links by itself.
A widget's key is "t_" + the setting's URL name.
"""

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, cast

from mlp import TrainConfig
from mlp import hyperparams as hp
from mlp.augment import AugmentConfig
from webapp.session import keys
from webapp.views.fields import UrlField

SECTIONS = ("Network", "Training", "Augmentation")
USE_SUBSET = keys.TRAIN_PREFIX + "use_subset"  # the toggle in front of "Training images"
MAX_TEXT = 200  # characters a shared link may put in a text box


class Settings(NamedTuple):
    """What the sidebar yields: the dataset, a config, and {field: message} for what is wrong."""

    dataset: str
    config: TrainConfig
    problems: dict[str, str]


def key(param: hp.Param) -> str:
    """The widget key of a setting."""
    if param.url is None:
        raise ValueError(f"{param.name} has no URL name: the sidebar does not show it")
    return keys.TRAIN_PREFIX + param.url


def widget_params() -> list[hp.Param]:
    """The settings the sidebar shows, by section, in table order (the dataset first)."""
    shown = [hp.DATASET, *(p for p in hp.PARAMS.values() if p.url is not None)]
    return sorted(shown, key=lambda p: SECTIONS.index(p.section))  # sorted() is stable


def initial(param: hp.Param) -> object:
    """A widget's starting value: text for text boxes, else the app's default."""
    value = hp.ui_default(param)
    return hp.to_text(param, value) if param.widget == "text" else value


def url_parser(param: hp.Param) -> Callable[[str], object]:
    """Reads a shared link's text for `param`: a value the widget can show, else ValueError saying what the
    widget takes (never repeating the text, which the page shows on its own)."""

    def parse(text: str) -> object:
        if param.widget == "text":  # shown as typed; the sidebar explains what is wrong with it
            if len(text) > MAX_TEXT:
                raise ValueError(f"{param.label} may be at most {MAX_TEXT} characters long in a link")
            return text
        allowed = hp.ui_allowed(param)
        what = param.label[0].lower() + param.label[1:]
        try:
            value = hp.parse(param, text)
        except ValueError as e:
            if isinstance(allowed, tuple) and _number(param, text) is not None:
                value = _number(param, text)  # a number, but not one this page takes: say which it takes
            else:
                raise ValueError(str(e).split(", got ")[0]) from None
        if isinstance(allowed, list) and value not in allowed:
            raise ValueError(f"{what} must be one of {', '.join(hp.to_text(param, a) for a in allowed)}")
        # A range is numbers only: an optional field's None ("none" in a link) is out of it too.
        if isinstance(allowed, tuple) and not (isinstance(value, (int, float)) and allowed[0] <= value <= allowed[1]):
            low, high = (hp.to_text(param, a) for a in allowed)
            raise ValueError(f"{what} must be from {low} to {high} on this page")
        return value

    return parse


def _number(param: hp.Param, text: str) -> int | float | None:
    """`text` as the number `param` takes (int or float), or None; the range is not checked."""
    try:
        return int(text) if param.kind == "int" else float(text)
    except ValueError:
        return None


def url_fields() -> list[UrlField]:
    """Every sidebar widget as a UrlField: kept across pages, read from and written to the URL."""
    fields = [UrlField(key(p), initial(p), p.url, url_parser(p), _to_text(p)) for p in widget_params()]
    use_subset = hp.Param("use_subset", "bool", False, "Train on a subset")
    fields.append(UrlField(USE_SUBSET, False, "use_subset", url_parser(use_subset), _to_text(use_subset)))
    return fields


def _to_text(param: hp.Param) -> Callable[[Any], str]:
    """How a widget's value goes into the URL (a text box's value is its text already)."""
    return str if param.widget == "text" else lambda value: hp.to_text(param, value)


def visible(param: hp.Param, values: Mapping[str, object]) -> bool:
    """Whether the sidebar shows `param`, given the other widgets' values ({key: value})."""
    if param.only_with is not None:
        other, wanted = param.only_with
        if values.get(key(hp.PARAMS[other])) not in wanted:
            return False
    if param.name == "train_subset":
        return bool(values.get(USE_SUBSET))
    if param.name in hp.AUGMENT_PARAMS:
        return bool(values.get(key(hp.PARAMS["augment"])))
    return True


def build(values: Mapping[str, object], n_samples: int | None = None,
          max_weight_bytes: int | None = None) -> Settings:
    """Settings from the widgets' values ({key: value}); n_samples checks sizes against the dataset, and
    max_weight_bytes the network's weights against the server's limit per model."""
    problems: dict[str, str] = {}
    fields: dict[str, dict[str, Any]] = {"train": {}, "augment": {}}
    for p in widget_params():
        if p is hp.DATASET or p.name == "augment":
            continue
        value = values.get(key(p), initial(p)) if visible(p, values) else hp.ui_default(p)
        if p.widget == "text":
            try:
                value = hp.parse(p, value)
            except ValueError as e:
                problems[p.name], value = str(e), p.default
        if p.name == "train_subset" and not visible(p, values):
            value = None
        fields["augment" if p.name in hp.AUGMENT_PARAMS else "train"][p.name] = value
    augment = AugmentConfig(**fields["augment"]) if values.get(key(hp.PARAMS["augment"])) else None
    config = TrainConfig(**fields["train"], augment=augment)
    found = config.problems(n_samples, max_weight_bytes)
    problems.update({k: v for k, v in found.items() if k not in problems})
    dataset = cast(str, values.get(key(hp.DATASET), hp.DATASET.default))  # the dataset selectbox's option
    return Settings(dataset, config, problems)
