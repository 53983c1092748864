"""The Gallery page's parts: a card per published model, a class's leaderboard for a projector, and Publish.

Cards and the leaderboard are drawn from the store's summary rows only (`Store.list_published`),
never from model files: a card's picture is the thumbnail made when the model was shared
(webapp.store.summary). What a card and the leaderboard say is decided by pure functions
(`cards`, `board_html`), unit-tested without Streamlit.
"""

import functools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import streamlit as st

from webapp import images, text
from webapp.session import keys, registry
from webapp.session.registry import ModelEntry
from webapp.store import Store, StoreError
from webapp.training.status import plural
from webapp.views.display import settings_summary

SORTS = {"test_accuracy": "Test accuracy", "drawn": "Drawn digits", "created": "Newest", "name": "Name"}
CLASS_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
MISSING = "—"
PER_ROW = 3  # cards side by side on a wide screen; Streamlit stacks columns on a phone, one card a row
REFRESH_SECONDS = 5  # how often a class's leaderboard looks for new models (one SQL query, no model files)
MAX_PICTURE = 16_384  # characters of a thumbnail data URL a card shows (they are about 4,000)
MAX_DETAILS = 160  # characters of a card's details line (a model file's settings may be long)
PNG_DATA_URL = "data:image/png;base64,"
#: A store summary row (Store.list_published): id, name, scores, architecture, ... as the store keeps them.
Row = Mapping[str, Any]
# Pictures are a few pixels enlarged: keep them sharp.
STYLE = "<style>.st-key-%s img{image-rendering:pixelated}</style>" % keys.GALLERY_CARDS


class Card(NamedTuple):
    """What a card shows of one published model, as text (a missing value is MISSING, never "None")."""

    rank: int
    model_id: str
    name: str  # the visitor's text: shown with text.literal / text.html only
    picture: str | None  # a PNG data URL, or None: the card shows a placeholder
    test_accuracy: str
    drawn_accuracy: str
    details: str  # architecture, epochs, settings (from the model file: shown as literal text)
    added: str  # the day it was shared (YYYY-MM-DD), or MISSING
    class_code: str  # "" when it belongs to no class


def class_code_problem(code: str) -> str | None:
    """Why `code` is not a class code, or None (empty means no class)."""
    if code and not CLASS_CODE.fullmatch(code):
        return "A class code is 1 to 32 letters, digits, - or _ (no spaces)."
    return None


def class_code_or_error(text: str) -> str:
    """URL parser for `class=`: the code, or ValueError (the page then starts without a class)."""
    if class_code_problem(text):
        raise ValueError(class_code_problem(text))
    return text


def flag(text: str) -> bool:
    """URL parser for an on/off switch: "1" or "true" is on, "0" or "false" off; ValueError for anything else."""
    value = {"1": True, "true": True, "0": False, "false": False}.get(text.lower())
    if value is None:
        raise ValueError("is neither 1 nor 0")
    return value


def percent(value: object) -> str:
    """0.9731 -> '97.31%'; MISSING for anything that is not a fraction in [0, 1]."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1:
        return f"{value:.2%}"
    return MISSING


def picture(summary: Row) -> str | None:
    """The summary's thumbnail if it is a PNG data URL of sane size, else None (rows shared before thumbnails)."""
    url = summary.get("thumbnail")
    if isinstance(url, str) and url.startswith(PNG_DATA_URL) and len(url) <= MAX_PICTURE:
        return url
    return None


def _details(row: Row) -> str:
    epochs = row.get("epochs")
    words = [row.get("architecture") or MISSING,
             plural(epochs, "epoch") if isinstance(epochs, int) and not isinstance(epochs, bool) else MISSING,
             settings_summary(row.get("training")) or MISSING]
    line = " · ".join(str(w) for w in words)
    return line if len(line) <= MAX_DETAILS else line[:MAX_DETAILS - 1] + "…"


def _day(row: Row) -> str:
    shared = row.get("shared")
    if isinstance(shared, str) and re.match(r"\d{4}-\d\d-\d\d", shared):
        return shared[:10]
    return MISSING


def cards(rows: Sequence[Row]) -> list[Card]:
    """Store summary rows (in the order shown) -> Cards, ranked from 1."""
    return [Card(rank, str(r["id"]), str(r.get("name") or MISSING), picture(r), percent(r.get("test_accuracy")),
                 percent(r.get("drawn_accuracy")), _details(r), _day(r), str(r.get("class_code") or ""))
            for rank, r in enumerate(rows, 1)]


def signature(rows: Sequence[Row]) -> tuple[tuple[Any, Any, Any], ...]:
    """What the leaderboard shows of `rows`, to tell when it changed: ids, names and scores, in order."""
    return tuple((r.get("id"), r.get("name"), r.get("test_accuracy")) for r in rows)


@functools.cache
def placeholder() -> str:
    """The picture of a card whose model was shared before pictures were kept: blank grey tiles."""
    grid = images.weight_grid(np.zeros((784, images.THUMBNAIL_UNITS), np.float32), range(images.THUMBNAIL_UNITS),
                              columns=images.THUMBNAIL_COLUMNS, scale=1, pad=1)
    grid[..., :3] = 128
    grid[..., 3] = np.where(grid[..., 3] > 0, 60, 0)  # faint on a light page and on a dark one
    return images.png_data_url(grid)


def card_grid(rows: Sequence[Row],
              empty: str = "Nothing published here yet. Train a model, then publish it below.") -> None:
    """A card per model, PER_ROW to a row (one a row on a phone): picture, name, scores, Draw and Inspect."""
    if not rows:
        st.info(empty)
        return
    shown = cards(rows)
    with st.container(key=keys.GALLERY_CARDS):
        for start in range(0, len(shown), PER_ROW):
            for column, card in zip(st.columns(PER_ROW, gap="medium"), shown[start:start + PER_ROW]):
                with column.container(border=True):
                    _card(card)
    st.html(STYLE, width="content")


def picture_alt(card: Card) -> str:
    """What a card's picture shows, for screen readers (the card's heading gives the model's name)."""
    if card.picture is None:
        return "No picture: this model was shared before pictures of the weights were kept"
    return (f"The model's first-layer weights: its first {images.THUMBNAIL_UNITS} hidden units as 28×28 tiles, "
            "red where ink pushes a unit up, blue where it pulls it down")


def _card(card: Card) -> None:
    # The rank's dot escaped: a heading that starts "1." would be a numbered list.
    st.subheader(f"{card.rank}\\. {text.literal(card.name)}", anchor=False)
    st.image(card.picture or placeholder(), width="stretch", alt=picture_alt(card))
    st.metric("Test accuracy", card.test_accuracy)
    about = [f"drawn digits {card.drawn_accuracy}", card.details,
             *([f"class {card.class_code}"] if card.class_code else []),
             *([f"added {card.added}".replace("-", "\u2011")] if card.added != MISSING else [])]  # unbroken
    st.caption(text.literal(" · ".join(about)))
    links = st.container(horizontal=True)
    query = {registry.MODEL_PARAM: card.model_id}
    links.page_link("app_pages/draw.py", label="Try on Draw", icon=":material/draw:", query_params=query)
    links.page_link("app_pages/inspect.py", label="Inspect", icon=":material/query_stats:", query_params=query)


# -- a class's leaderboard, for a projector ---------------------------------------------------------

# Ranks in the theme's primary colour, light or dark (.streamlit/config.toml; light-dark() follows the theme
# Streamlit shows).
BOARD_STYLE = """<style>
.dl-board ol{list-style:none;margin:0;padding:0;display:grid;gap:.4rem .8rem;grid-auto-flow:column;
  grid-template-rows:repeat(var(--rows),auto)}
.dl-board li{display:grid;grid-template-columns:1.6em minmax(0,1fr) auto;align-items:baseline;gap:.6em;
  padding:.2em .5em;border-radius:.4em;background:rgba(128,128,128,.12);
  font-size:clamp(1.35rem,2.4vw,3rem);line-height:1.2}
.dl-board .rank{font-weight:800;color:light-dark(#be3e19,#e86e4a);text-align:right;font-variant-numeric:tabular-nums}
.dl-board .name{font-weight:600;overflow-wrap:anywhere}
.dl-board .acc{font-weight:800;font-variant-numeric:tabular-nums}
.dl-board .empty{font-size:clamp(1.2rem,1.8vw,2rem)}
@media (min-width:1400px){.dl-board.two ol{grid-template-columns:1fr 1fr;grid-template-rows:repeat(var(--half),auto)}
  .dl-board.two li{font-size:clamp(1.35rem,1.6vw,2.4rem)}}
</style>"""
TWO_COLUMNS = 8  # a leaderboard longer than this fills two columns on a wide screen, ranks running down each
# Projector view: the leaderboard alone, no sidebar or app header, the page's padding mostly gone.
PROJECTOR_STYLE = """<style>
[data-testid="stSidebar"],[data-testid="stSidebarCollapsedControl"],[data-testid="stExpandSidebarButton"],
header[data-testid="stHeader"]{display:none!important}
[data-testid="stMainBlockContainer"]{padding-top:1.5rem!important;max-width:none!important}
.dl-class{font-size:clamp(2rem,3.6vw,4.5rem);font-weight:800;line-height:1.1;margin:0}
</style>"""


def board_html(board_cards: Sequence[Card], code: str) -> str:
    """The leaderboard as HTML for st.html: rank, name and test accuracy in large type, the theme's own colours.

    Names and the code are escaped (text.html): a visitor's text is shown, never run.
    """
    if not board_cards:
        return (f'{BOARD_STYLE}<div class="dl-board"><p class="empty">Nothing published in class '
                f'{text.html(code)} yet. Publish a model with this class code and it appears here.</p></div>')
    items = "".join(f'<li><span class="rank">{c.rank}</span><span class="name">{text.html(c.name)}</span>'
                    f'<span class="acc">{c.test_accuracy}</span></li>' for c in board_cards)
    n = len(board_cards)
    two = " two" if n > TWO_COLUMNS else ""
    return (f'{BOARD_STYLE}<div class="dl-board{two}" style="--rows:{n};--half:{-(-n // 2)}">'
            f'<ol>{items}</ol></div>')


def projector_heading(code: str) -> None:
    """The class's name in large type, for the projector view (which has no page title)."""
    st.html(f'{PROJECTOR_STYLE}<p class="dl-class">Class {text.html(code.lower())}</p>')


def leaderboard(store: Store, code: str, rows: Sequence[Row]) -> None:
    """A class's models ranked by test accuracy in large type, for a projector; it follows new models by itself.

    `rows` are the class's rows, ranked (Store.leaderboard). Every REFRESH_SECONDS a fragment reads the
    list again (one query, no model files) and reruns the page only when it changed.
    """
    st.html(board_html(cards(rows), code))
    n = plural(len(rows), "model")
    st.caption(f"{n}, ranked by test accuracy. New models appear here by themselves, within "
               f"{REFRESH_SECONDS} seconds: leave this page on the projector.")
    st.session_state[keys.GALLERY_SHOWN] = signature(rows)
    st.session_state[keys.GALLERY_FRESH] = True
    st.fragment(_watch, run_every=REFRESH_SECONDS)(store, code)


def _watch(store: Store, code: str) -> None:
    """Rerun the page when the class's leaderboard changed since the page drew it."""
    ss = st.session_state
    if ss.pop(keys.GALLERY_FRESH, False):
        return  # the page run that drew the leaderboard has just read it
    try:
        rows = store.leaderboard(code)
    except StoreError:
        return  # the page says so on its next run; meanwhile the leaderboard stays as it is
    if signature(rows) != ss.get(keys.GALLERY_SHOWN):
        st.rerun()


# -- Publish ------------------------------------------------------------------------------------------


def publish_form(store: Store, code: str) -> None:
    """Publish one of this session's finished models to the gallery (and to a class, with a code)."""
    mine = {n: e for n, e in registry.session_models().items()
            if e.current() is not None and (e.job is None or e.job.done)}
    ss = st.session_state
    done = ss.pop(keys.PUBLISHED, None)  # (kind, message) of the last Publish, shown once
    with st.expander("Publish one of your models", expanded=done is not None):
        if done:
            kind, message = done
            getattr(st, kind)(message)
        if not mine:
            st.caption("Models you train or upload appear here, ready to publish.")
            return
        pick = st.selectbox("Model", list(mine), key=keys.PUBLISH_MODEL,
                            format_func=lambda n: registry.describe(mine[n]))
        name = st.text_input("Name in the gallery", value=pick, max_chars=text.NAME_MAX,
                             key=f"{keys.PUBLISH_NAME}-{pick}")
        if ss.get(keys.PUBLISH_FOR) != code:  # the page shows another class now: publish to that one
            ss[keys.PUBLISH_FOR] = ss[keys.PUBLISH_CLASS] = code
        target = st.text_input("Class code (optional)", max_chars=32, key=keys.PUBLISH_CLASS)
        problem = class_code_problem(target)
        if problem:
            st.error(problem)
        if st.button("Publish", key=keys.PUBLISH, icon=":material/publish:", disabled=bool(problem)):
            # Kept until stored: measuring takes seconds, and a rerun meanwhile must not lose the press.
            ss[keys.PUBLISH_PENDING] = (pick, name, target)
        pending = ss.get(keys.PUBLISH_PENDING)
        if pending is not None:
            _publish(store, mine, *pending)


def _publish(store: Store, mine: Mapping[str, ModelEntry], pick: str, name: str, target: str) -> None:
    """Measure `pick` on this server's data and store it published (what Publish pressed asked for)."""
    ss = st.session_state
    entry = mine.get(pick)
    if entry is None:  # gone from the session meanwhile
        ss.pop(keys.PUBLISH_PENDING, None)
        return
    client = registry.client()
    try:
        text.clean_name(name)  # a name the store would refuse is said at once, before seconds of measuring
        with st.spinner("Measuring it on this server's test set and drawn digits…"):
            scores = registry.measured_scores(entry)  # the gallery ranks by these, not the file's claims
        store.put_model(entry.file_bytes(), name=name, owner=client.token, address=client.address,
                        published=True, class_code=target or None, scores=scores)
    except (StoreError, text.TextError) as e:
        outcome = ("error", f"Not published: {text.literal(e)}")
    else:
        where = f" in class {text.literal(target.lower())}." if target else "."
        outcome = ("success", f"Published **{text.literal(name)}**{where}")
    # Both right after the write, with no Streamlit call between (a rerun stops a run only at one), and the
    # outcome kept for the next run to show: a rerun coming in now loses neither the press nor its answer.
    ss.pop(keys.PUBLISH_PENDING, None)
    ss[keys.PUBLISHED] = outcome
    st.rerun()
