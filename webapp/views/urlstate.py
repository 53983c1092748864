"""Widget values that survive page switches and travel in the address bar. One helper for every page.

Streamlit forgets the state of widgets on pages not shown, so a visit to another page would
reset them; a shadow copy under `keys.KEPT + key` brings them back. On a session's first
visit a widget may take its value from the URL query (TensorFlow Playground style): the text is
parsed and checked by the field's `parse`, and anything it refuses falls back to the default;
`restore` returns what was refused and why (a Refusal each), for the page to say so.
`mirror` writes the values back, leaving defaults out so links stay short.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import streamlit as st

from webapp.session import keys


@dataclass(frozen=True)
class UrlField:
    """A widget kept across pages; `param` names it in the URL (None: not in the URL).

    parse(text) -> value raises ValueError for anything the widget cannot show.
    """

    key: str
    default: object
    param: str | None = None
    parse: Callable[[str], object] | None = None
    to_text: Callable[[object], str] = str


class Refusal(NamedTuple):
    """A URL value a field's parser refused: the widget starts at its default instead.

    `text` is the address bar's text as it came (a visitor's: show it escaped and shortened).
    """

    param: str
    text: str
    reason: str  # the parser's ValueError message


def restore(fields):
    """Give each field's widget its value before it is drawn: kept copy, else URL, else default.

    Returns the Refusals of the URL values read on this run and refused (the URL is read on a
    session's first visit only, so later runs return []).
    """
    ss = st.session_state
    refused: list[Refusal] = []
    for f in fields:
        kept = keys.KEPT + f.key
        if f.key in ss:
            ss[kept] = ss[f.key]
            continue
        value = ss.get(kept, f.default)
        if kept not in ss and f.param is not None:
            value = from_url(f, refused)
        ss[f.key] = ss[kept] = value
    return refused


def from_url(field, refused=None):
    """The field's value from the URL query, or its default when absent or refused (a Refusal appended to
    the list `refused`, if given)."""
    raw = st.query_params.get(field.param)
    if raw is None or field.parse is None:
        return field.default
    try:
        return field.parse(raw)
    except (ValueError, TypeError) as e:
        if refused is not None:
            refused.append(Refusal(field.param, raw, str(e)))
        return field.default


def mirror(fields, values=None):
    """Write fields' current values (or `values[key]`) into the URL query; defaults are left out."""
    ss = st.session_state
    for f in fields:
        if f.param is None:
            continue
        value = (values or {}).get(f.key, ss.get(f.key, f.default))
        if value == f.default or value is None:
            st.query_params.pop(f.param, None)
        elif st.query_params.get(f.param) != f.to_text(value):
            st.query_params[f.param] = f.to_text(value)


def keep(defaults):
    """restore() for widgets that never go in the URL: {key: default}."""
    restore([UrlField(k, v) for k, v in defaults.items()])


def choice(options):
    """A parse function accepting the text of one of `options` (compared as text)."""
    by_text = {str(o): o for o in options}

    def parse(text):
        if text not in by_text:
            raise ValueError(f"must be one of {', '.join(by_text)}")
        return by_text[text]

    return parse


def int_in(low, high=None):
    """A parse function accepting a whole number in [low, high]."""

    def parse(text):
        wanted = f"a whole number from {low} to {high}" if high is not None else f"a whole number, at least {low}"
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"must be {wanted}") from None
        if value < low or (high is not None and value > high):
            raise ValueError(f"must be {wanted}")
        return value

    return parse
