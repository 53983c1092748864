"""Widget values that survive page switches and travel in the address bar. One helper for every page.

Streamlit forgets the state of widgets on pages not shown, so a visit to another page would
reset them; a shadow copy under `keys.KEPT + key` brings them back. On a session's first
visit a widget may take its value from the URL query (TensorFlow Playground style): the text is
parsed and checked by the field's `parse`, and anything it refuses falls back to the default;
`restore` returns what was refused and why (a Refusal each), for the page to say so. The fields and
their parsers are declared in `webapp.views.fields`, which needs no Streamlit.
`mirror` writes the values back, leaving defaults out so links stay short.
"""

from collections.abc import Iterable, Mapping

import streamlit as st

from webapp.session import keys
from webapp.views.fields import Refusal, UrlField


def restore(fields: Iterable[UrlField]) -> list[Refusal]:
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


def from_url(field: UrlField, refused: list[Refusal] | None = None) -> object:
    """The field's value from the URL query, or its default when absent or refused (a Refusal appended to
    the list `refused`, if given)."""
    if field.param is None or field.parse is None:
        return field.default
    raw = st.query_params.get(field.param)
    if raw is None:
        return field.default
    try:
        return field.parse(raw)
    except (ValueError, TypeError) as e:
        if refused is not None:
            refused.append(Refusal(field.param, raw, str(e)))
        return field.default


def mirror(fields: Iterable[UrlField], values: Mapping[str, object] | None = None) -> None:
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


def keep(defaults: Mapping[str, object]) -> None:
    """restore() for widgets that never go in the URL: {key: default}."""
    restore([UrlField(k, v) for k, v in defaults.items()])
