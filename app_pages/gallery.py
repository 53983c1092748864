"""Published models as cards, and a class's leaderboard for a projector (`class=<code>` in the address)."""

import streamlit as st

from webapp import text
from webapp.session import keys, registry, resources
from webapp.store import StoreError
from webapp.views import fields, gallery, urlstate

registry.init_session()
store = resources.store()
ss = st.session_state

url_fields = [fields.UrlField(keys.GALLERY_CLASS, "", "class", gallery.class_code_or_error),
              fields.UrlField(keys.GALLERY_SORT, "test_accuracy", "sort", fields.choice(gallery.SORTS)),
              fields.UrlField(keys.GALLERY_PROJECTOR, False, "projector", gallery.flag, lambda on: "1")]
urlstate.restore(url_fields)

code = ss[keys.GALLERY_CLASS]
if store is not None and ss[keys.GALLERY_PROJECTOR] and code and not gallery.class_code_problem(code):
    # Projector view: the class's leaderboard alone, in large type, for the back of the room.
    urlstate.mirror(url_fields)
    gallery.projector_heading(code)
    try:
        gallery.leaderboard(store, code, store.leaderboard(code))
    except StoreError as e:
        st.warning(f"The leaderboard cannot be read right now: {text.literal(e)}")
    st.toggle("Projector view", key=keys.GALLERY_PROJECTOR, help="Off: back to the gallery.")
    st.stop()

st.title("Gallery")
st.caption("Models people chose to publish. Try one on Draw or look inside it on Inspect. A class code gathers a "
           "class's models into a leaderboard that updates by itself: share the link with the code, and project it.")
if store is None:
    st.warning("The gallery is not available on this server right now.")
    st.stop()

a, b = st.columns([1, 1])
code = a.text_input("Class code", key=keys.GALLERY_CLASS, max_chars=32, placeholder="e.g. 7b-2026",
                    help="Letters, digits, - and _. Empty: every published model.")
sort = b.selectbox("Sort by", list(gallery.SORTS), key=keys.GALLERY_SORT, format_func=gallery.SORTS.get)
problem = gallery.class_code_problem(code)
if problem:
    st.error(problem)
    code = ""
urlstate.mirror(url_fields, {keys.GALLERY_CLASS: code})

try:
    rows = store.list_published(class_code=code or None, sort=sort)
    ranked = (rows if sort == "test_accuracy" else store.leaderboard(code)) if code else None
except StoreError as e:
    st.warning(f"The gallery cannot be read right now: {text.literal(e)}")
    st.stop()
if code:
    st.subheader(f"Class {text.literal(code.lower())}: leaderboard", anchor=False)
    gallery.leaderboard(store, code, ranked)
    st.toggle("Projector view", key=keys.GALLERY_PROJECTOR,
              help="The leaderboard alone, in large type, without the sidebar: for a projector.")
    st.subheader("Try them", anchor=False)
else:
    st.subheader("Published models", anchor=False)
gallery.card_grid(rows, "Nothing published in this class yet." if code else
                        "Nothing published here yet. Train a model, then publish it below.")
gallery.publish_form(store, code)
