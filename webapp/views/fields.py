"""A widget's URL contract, without Streamlit: its field, a refused URL value, and the parsers that read it.

`webapp.views.urlstate` syncs these fields with the widgets and the address bar; pure modules (the Train
page's settings in `webapp.views.train_settings`) declare fields from here without importing Streamlit.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

T = TypeVar("T")


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


def choice(options: Iterable[T]) -> Callable[[str], T]:
    """A parse function accepting the text of one of `options` (compared as text)."""
    by_text = {str(o): o for o in options}

    def parse(text: str) -> T:
        if text not in by_text:
            raise ValueError(f"must be one of {', '.join(by_text)}")
        return by_text[text]

    return parse


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """A parse function accepting a whole number in [low, high]."""

    def parse(text: str) -> int:
        wanted = f"a whole number from {low} to {high}" if high is not None else f"a whole number, at least {low}"
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"must be {wanted}") from None
        if value < low or (high is not None and value > high):
            raise ValueError(f"must be {wanted}")
        return value

    return parse
