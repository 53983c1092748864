"""Digit Lab: the navigation over the Draw, Train, Inspect and Gallery pages. Run: streamlit run app.py"""

import streamlit as st

from webapp.session import resources
from webapp.views import ui

st.set_page_config(page_title="Digit Lab", page_icon=":material/edit_note:", layout="wide")
resources.one_blas_thread()
resources.give_freed_memory_back()
resources.close_when_gone()
resources.cap_uploads()

pages = [
    st.Page("app_pages/draw.py", title="Draw", icon=":material/draw:", default=True),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/inspect.py", title="Inspect", icon=":material/query_stats:"),
    st.Page("app_pages/gallery.py", title="Gallery", icon=":material/social_leaderboard:"),
]
page = st.navigation(pages)
ui.page_scripts()
page.run()
