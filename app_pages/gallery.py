"""Published models, and a class's leaderboard (`class=<code>` in the address)."""

import streamlit as st

from webapp import gallery_parts, keys, registry, resources, urlstate
from webapp.store import StoreError

registry.init_session()
store = resources.store()

st.title("Gallery")
st.caption("Models people chose to publish, best first. Open one on Draw to try it or on Inspect to look inside. "
           "A class code gathers a class's models into a leaderboard: share the link with the code, and "
           "project it.")
if store is None:
    st.warning("The gallery is not available on this server right now.")
    st.stop()

fields = [urlstate.UrlField(keys.GALLERY_CLASS, "", "class", gallery_parts.class_code_or_error),
          urlstate.UrlField(keys.GALLERY_SORT, "test_accuracy", "sort", urlstate.choice(gallery_parts.SORTS))]
urlstate.restore(fields)
a, b = st.columns([1, 1])
code = a.text_input("Class code", key=keys.GALLERY_CLASS, max_chars=32, placeholder="e.g. 7b-2026",
                    help="Letters, digits, - and _. Empty: every published model.")
b.selectbox("Sort by", list(gallery_parts.SORTS), key=keys.GALLERY_SORT, format_func=gallery_parts.SORTS.get)
problem = gallery_parts.class_code_problem(code)
if problem:
    st.error(problem)
    code = ""
urlstate.mirror(fields, {keys.GALLERY_CLASS: code})

try:
    rows = store.list_published(class_code=code or None, sort=st.session_state[keys.GALLERY_SORT])
except StoreError as e:
    st.warning(f"The gallery cannot be read right now: {e}")
    st.stop()
st.subheader(f"Class {code}: leaderboard" if code else "Published models")
gallery_parts.table(rows)
gallery_parts.publish_form(store, code)
