"""Share model / Share drawing: a model or a drawing put in the address bar, for anyone to open.

A model is shared through the store (webapp.store, an SQL database every replica of the server can
reach), under an unguessable id; `model=<id>` then opens it in any browser. A drawing travels in the
link itself (`drawing=`, webapp.views.links), beside the model that read it.
"""

import re

import numpy as np
import streamlit as st
from numpy.typing import ArrayLike, NDArray

from webapp import text
from webapp.session import keys, registry, resources
from webapp.session.registry import ModelEntry, ModelKind
from webapp.store import StoreError
from webapp.views import links

DRAWING_PARAM = "drawing"
# A taught model ("… + yours") is shared like a trained one: its file holds weights and metadata, never
# the drawings it was taught, and sharing it is the user's own click.
SHAREABLE = frozenset({ModelKind.TRAINED, ModelKind.UPLOADED, ModelKind.SHARED, ModelKind.TAUGHT})


def share(entry: ModelEntry) -> str | None:
    """Put `entry`'s model in the store (once) and its id in the address bar; the id, or None (said why)."""
    ss = st.session_state
    if entry.shared:
        model_id = entry.link_id
    else:
        shared = resources.store()
        if shared is None:
            _notice("error", "Sharing is not available on this server right now. Download the model instead.")
            return None
        client = registry.client()
        try:
            model_id = shared.put_model(entry.file_bytes(), name=entry.name, owner=client.token, address=client.address)
        except StoreError as e:
            _notice("error", f"The model was not shared: {text.literal(e)}")
            return None
        entry.link_id, entry.shared = model_id, True
    st.query_params[registry.MODEL_PARAM] = model_id
    ss[keys.FOLLOWED_LINK] = model_id
    return model_id


def share_model_button(entry: ModelEntry | None, key: str) -> None:
    """'Share model' for a trained, uploaded or taught model whose training has finished."""
    if entry is None or entry.kind not in SHAREABLE or entry.current() is None:
        return
    under_way = entry.job is not None and not entry.job.done
    if st.button("Share model", key=key, icon=":material/share:", disabled=under_way,
                 help="Store the model on this server and put its link in the address bar: anyone with the "
                      "link can draw with it, inspect it and train it further." if not under_way
                 else "A model can be shared once its training has finished."):
        if share(entry) is not None:
            _notice("success", f"Anyone with this link gets **{text.literal(entry.name)}**:",
                    link={"model": entry.link_id})
        st.rerun()


def share_drawing_button(entry: ModelEntry, x28: ArrayLike | None, key: str = "share_drawing") -> None:
    """'Share drawing': the drawing (and the model that read it) in the address bar."""
    clicked = st.button("Share drawing", key=key, icon=":material/ios_share:", disabled=x28 is None,
                        help="Put this drawing and the model in the address bar: the link reopens the same reading.")
    if clicked and x28 is not None:  # (the button is disabled without a drawing)
        params = {}
        if entry.kind is not ModelKind.PRETRAINED:
            if share(entry) is None:
                st.rerun()
            params["model"] = entry.link_id
        params[DRAWING_PARAM] = links.encode_drawing(x28)
        st.query_params[DRAWING_PARAM] = params[DRAWING_PARAM]
        _notice("success", "This link reopens your drawing with the same reading:", link=params)
        st.rerun()


def shared_drawing() -> NDArray[np.float32] | None:
    """The drawing a link carries ((28, 28) floats), or None; a bad one is explained once and dropped."""
    packed = st.query_params.get(DRAWING_PARAM)
    if packed is None:
        return None
    try:
        return links.decode_drawing(packed)
    except links.DrawingLinkError as e:
        st.query_params.pop(DRAWING_PARAM, None)
        _notice("warning", f"{text.literal(e)} Draw a digit instead.")
        return None


def drop_shared_drawing() -> None:
    """The visitor drew their own: the link's drawing is no longer what the page shows."""
    st.query_params.pop(DRAWING_PARAM, None)


def show_notice() -> None:
    """The last share's outcome, once: the link to copy, or why it failed."""
    notice = st.session_state.pop(keys.SHARE_NOTICE, None)
    if notice is None:
        return
    kind, message, link = notice
    getattr(st, kind)(message)
    if link:
        query = "&".join(f"{k}={v}" for k, v in link.items())
        st.code(f"{app_root()}/?{query}", language=None, wrap_lines=True)  # opens on Draw


def app_root() -> str:
    """The app's address without the page: links open on Draw, the default page."""
    return re.sub(r"/(train|inspect|gallery)$", "", (st.context.url or "").rstrip("/"))


def _notice(kind: str, message: str, link: dict[str, str] | None = None) -> None:
    """Keep a notice for show_notice; `message` is Markdown, with any visitor's text in it made literal."""
    st.session_state[keys.SHARE_NOTICE] = (kind, message, link)
