"""Small Streamlit pieces more than one page draws: the model upload and the missing-dataset notice."""

import logging

import streamlit as st

from mlp import ModelFileError

from . import keys, registry, resources
from .settings import MAX_UPLOAD_MB

log = logging.getLogger("digit_lab")


def class_names(entry):
    """Class labels for a model entry's dataset (digits when there is no entry)."""
    return resources.class_names(entry.dataset if entry is not None else "mnist")


def upload_model_expander():
    """'Use your own model': read an uploaded .npz, add it to the session's models and select it."""
    ss = st.session_state
    with st.expander("Use your own model (.npz)"):
        upload = st.file_uploader("Upload a model file saved by Digit Lab", type=["npz"], key=keys.UPLOAD)
        if upload is not None and ss.get(keys.UPLOADED_ID) != upload.file_id:
            ss[keys.UPLOADED_ID] = upload.file_id
            try:
                uploaded = registry.read_upload(upload.name, upload.getvalue(), MAX_UPLOAD_MB)
            except ModelFileError as e:
                ss[keys.UPLOAD_ERROR] = str(e)
            else:
                ss[keys.UPLOAD_ERROR] = None
                name = registry.next_model_name("Uploaded")
                registry.add_model(registry.ModelEntry(name, "uploaded", model=uploaded))
                registry.select(name)
                st.rerun()
        if ss.get(keys.UPLOAD_ERROR):
            st.error(ss[keys.UPLOAD_ERROR])


def dataset_notice(name):
    """Say plainly that a dataset is missing here and offer to fetch it (the rest of the app keeps working)."""
    from data import DownloadError, download_dataset

    label = resources.dataset_label(name)
    st.warning(f"**{label} is not available on this server yet**, so training and the test-set views wait for it.")
    if st.button(f"Download {label} (about 30–55 MB)", key=f"download-{name}", icon=":material/download:"):
        try:
            download_dataset(name)
        except (DownloadError, OSError):
            log.exception("downloading %s failed", name)
            st.error("The download failed. Try again later.")
        else:
            st.rerun()
