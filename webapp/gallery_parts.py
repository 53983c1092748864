"""The Gallery page's table and its Publish form."""

import re

import streamlit as st

from . import keys, registry, text
from .display import settings_summary
from .share_parts import app_root
from .store import StoreError

SORTS = {"test_accuracy": "Test accuracy", "drawn": "Drawn digits", "created": "Newest", "name": "Name"}
CLASS_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")


def class_code_problem(code):
    """Why `code` is not a class code, or None (empty means no class)."""
    if code and not CLASS_CODE.fullmatch(code):
        return "A class code is 1 to 32 letters, digits, - or _ (no spaces)."
    return None


def class_code_or_error(text):
    """URL parser for `class=`: the code, or ValueError (the page then starts without a class)."""
    if class_code_problem(text):
        raise ValueError(class_code_problem(text))
    return text


def rows_for_table(rows, base_url):
    """Store rows -> the table's columns, with links that open each model on Draw and on Inspect."""
    out = []
    for rank, r in enumerate(rows, 1):
        out.append({
            "#": rank,
            "name": r.get("name"),
            "architecture": r.get("architecture"),
            "settings": settings_summary(r.get("training")),
            "epochs": r.get("epochs"),
            "test accuracy": r.get("test_accuracy"),
            "drawn digits": r.get("drawn_accuracy"),
            "training (s)": r.get("training_seconds"),
            "created": r.get("created"),
            "class": r.get("class_code") or "",
            "draw": f"{base_url}/?model={r['id']}",
            "inspect": f"{base_url}/inspect?model={r['id']}",
        })
    return out


def table(rows):
    """The published models as a sortable table; each row opens on Draw or Inspect."""
    if not rows:
        st.info("Nothing published here yet. Train a model, then publish it below.")
        return
    base = app_root()
    st.dataframe(
        rows_for_table(rows, base), hide_index=True, width="stretch",
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="percent"),
            "drawn digits": st.column_config.NumberColumn(format="percent"),
            "training (s)": st.column_config.NumberColumn(format="%.1f"),
            "draw": st.column_config.LinkColumn("Draw", display_text="Open on Draw"),
            "inspect": st.column_config.LinkColumn("Inspect", display_text="Inspect"),
        },
    )


def publish_form(store, code):
    """Publish one of this session's finished models to the gallery (and to a class, with a code)."""
    mine = {n: e for n, e in registry.session_models().items()
            if e.current() is not None and (e.job is None or e.job.done)}
    ss = st.session_state
    done = ss.pop(keys.PUBLISHED, None)
    with st.expander("Publish one of your models", expanded=done is not None):
        if done:
            st.success(done)
        if not mine:
            st.caption("Models you train or upload appear here, ready to publish.")
            return
        pick = st.selectbox("Model", list(mine), key=keys.PUBLISH_MODEL,
                            format_func=lambda n: registry.describe(mine[n]))
        name = st.text_input("Name in the gallery", value=pick, max_chars=60, key=f"{keys.PUBLISH_NAME}-{pick}")
        if ss.get(keys.PUBLISH_FOR) != code:  # the page shows another class now: publish to that one
            ss[keys.PUBLISH_FOR] = ss[keys.PUBLISH_CLASS] = code
        target = st.text_input("Class code (optional)", max_chars=32, key=keys.PUBLISH_CLASS)
        problem = class_code_problem(target)
        if problem:
            st.error(problem)
        if st.button("Publish", key=keys.PUBLISH, icon=":material/publish:", disabled=bool(problem)):
            client = registry.client()
            try:
                store.put_model(mine[pick].file_bytes(), name=name, owner=client.token, address=client.address,
                                published=True, class_code=target or None)
            except StoreError as e:
                st.error(f"Not published: {text.literal(e)}")
            else:
                where = f" in class {text.literal(target.lower())}." if target else "."
                ss[keys.PUBLISHED] = f"Published **{text.literal(name)}**{where}"
                st.rerun()
