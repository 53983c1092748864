"""Text that visitors supply (names, class codes, an uploaded file's fields): checked, and shown as text. Pure.

Streamlit renders most strings as Markdown: a name like ``![p](http://host/x.png)`` in a caption
would make every visitor's browser fetch that image, and ``:red[**Session expired**]`` would
look like the app talking. So a visitor's text never goes into Markdown as it is: `literal()`
makes a string Markdown shows character for character, and `html()` one for st.html.

Names are also checked where they enter (`clean_name`): NFKC-normalised, no invisible or
formatting characters, no pile-ups of combining marks, and nothing that passes for the built-in
model ("Pretrained" in Cyrillic letters, say).
"""

import html as _html
import re
import unicodedata
from collections.abc import Iterable

from confusable_homoglyphs import confusables

__all__ = ["TextError", "RESERVED_NAMES", "clean_name", "html", "literal", "passes_for"]

NAME_MAX = 80
#: Names that stand for the app's own models: a visitor's model may not be named like them.
RESERVED_NAMES = ("Pretrained",)
MAX_COMBINING = 2  # combining marks on one character: enough for any script (e.g. Vietnamese), not a "Zalgo" pile
# Characters that draw nothing yet are not formatting characters (category Cf): Hangul fillers, the
# braille blank, variation selectors and the like; Unicode's Default_Ignorable_Code_Point and blanks.
_INVISIBLE = set("\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5\u180e\u180b\u180c\u180d\u180f")
_INVISIBLE_RANGES = ((0xFE00, 0xFE0F), (0xE0100, 0xE01EF), (0xE0000, 0xE007F))
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character: CommonMark escapes them all
_WWW = re.compile(r"(?i)(www)(\\\.)")  # "www." (its '.' already escaped)


class TextError(ValueError):
    """A name that cannot be used; the message says why, for the visitor."""


def literal(text: object) -> str:
    """`text` escaped so that Streamlit's Markdown shows it as typed: no links, images, emphasis, colours,
    icons, emoji short codes or maths. Newlines become spaces (a name is one line)."""
    text = " ".join(str(text).split())
    # A backslash before every ASCII punctuation character is CommonMark's own escape. It does not
    # stop GitHub's bare links ("http://host", "www.host.org", "me@host.org"), which the renderer
    # finds in the text after escapes, nor Streamlit's short codes (:smile:, :material/x:): an
    # invisible U+2060 word joiner after each ':' and '@', and between "www" and its '.', breaks
    # those apart (seen in chromium: no link, image, icon or emoji is left).
    escaped = _PUNCTUATION.sub(r"\\\1", text)
    escaped = escaped.replace("\\:", "\\:\u2060").replace("\\@", "\\@\u2060")
    return _WWW.sub("\\1\u2060\\2", escaped)


def html(text: object) -> str:
    """`text` escaped for st.html: shown as text, never as markup."""
    return _html.escape(str(text), quote=True)


def _invisible(char: str) -> bool:
    code = ord(char)
    if char in _INVISIBLE or any(low <= code <= high for low, high in _INVISIBLE_RANGES):
        return True
    category = unicodedata.category(char)
    # C*: control, format (zero-width, direction overrides), surrogate, private use, unassigned;
    # Zl/Zp: line and paragraph separators.
    return category[0] == "C" or category in ("Zl", "Zp")


def _skeleton(text: str) -> str:
    """What `text` looks like, roughly: case-folded, marks and non-alphanumerics dropped, look-alikes
    (UTS #39's confusables, e.g. Cyrillic 'Р') replaced by the Latin letters they imitate."""
    found = confusables.is_confusable(text, preferred_aliases=["latin"], greedy=True) or []
    latin = {f["character"]: f["homoglyphs"][0]["c"] for f in found if f["homoglyphs"]}
    folded = unicodedata.normalize("NFKD", "".join(latin.get(c, c) for c in text)).casefold()
    return "".join(c for c in folded if c.isalnum())


def passes_for(name: str, reserved: Iterable[str] = RESERVED_NAMES) -> str | None:
    """The reserved name `name` could be taken for, or None."""
    shape = _skeleton(name)
    return next((r for r in reserved if _skeleton(r) == shape), None)


def clean_name(name: object, what: str = "a model name") -> str:
    """`name` NFKC-normalised and stripped, or TextError saying what is wrong with it."""
    if not isinstance(name, str):
        raise TextError(f"{what} must be text")
    name = unicodedata.normalize("NFKC", name).strip()
    if not name:
        raise TextError(f"{what} cannot be empty")
    if len(name) > NAME_MAX:
        raise TextError(f"{what} may have at most {NAME_MAX} characters, this one has {len(name)}")
    if any(_invisible(c) for c in name):
        raise TextError(f"{what} may not contain invisible, control or formatting characters")
    run = 0
    for c in name:
        run = run + 1 if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me") else 0
        if run > MAX_COMBINING:
            raise TextError(f"{what} may not stack more than {MAX_COMBINING} accents on one letter")
    if not any(unicodedata.category(c)[0] in "LN" for c in name):
        raise TextError(f"{what} needs at least one letter or digit")
    if (reserved := passes_for(name)) is not None:
        raise TextError(f"{what} may not look like the app's own {reserved!r} model")
    return name
