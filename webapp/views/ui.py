"""Small Streamlit pieces more than one page draws: the model upload and the missing-dataset notice."""

import logging

import streamlit as st

from data import DatasetError, DatasetNotFound
from mlp import ModelFileError
from webapp import clients, text
from webapp.session import downloads, keys, registry, resources
from webapp.session.budget import BudgetError
from webapp.session.downloads import DownloadState
from webapp.session.registry import ModelEntry

log = logging.getLogger("digit_lab")
MISSING_DATASET = "dataset not on this server"  # the topic of its Once (resources.log_once): a dataset's name once


def class_names(entry: ModelEntry | None) -> list[str]:
    """Class labels for a model entry's dataset (digits when there is no entry)."""
    return resources.class_names(entry.dataset if entry is not None else "mnist")


def upload_model_expander() -> None:
    """'Use your own model': read an uploaded .npz, add it to the session's models and select it.

    A file refused is not left listed in the uploader as if it were in use: the uploader is drawn
    again under a new key (empty), and the error says what was wrong with the file.
    """
    ss = st.session_state
    attempt = ss.setdefault(keys.UPLOAD_ROUND, 0)
    with st.expander("Use your own model (.npz)"):
        upload = st.file_uploader("Upload a model file saved by Digit Lab", type=["npz"],
                                  key=f"{keys.UPLOAD}-{attempt}")
        if upload is not None and ss.get(keys.UPLOADED_ID) != upload.file_id:
            ss[keys.UPLOADED_ID] = upload.file_id
            data = upload.getvalue()
            resources.forget_upload(upload.file_id)  # read: Streamlit need not hold the bytes any longer
            try:
                uploaded = registry.read_upload(upload.name, data)
            except (ModelFileError, BudgetError) as e:
                ss[keys.UPLOAD_ERROR] = ("error", str(e))
                ss[keys.UPLOAD_ROUND] = attempt + 1  # an empty uploader: the refused file goes from the list
                st.rerun()
            else:
                name = registry.upload_name(upload.name)
                ss[keys.UPLOAD_ERROR] = None if not uploaded.dropped_meta else ("warning", (
                    f"{name} was loaded, but these details in it were not readable and were left out: "
                    f"{', '.join(uploaded.dropped_meta)}."))
                registry.add_model(registry.ModelEntry(name, registry.ModelKind.UPLOADED, model=uploaded))
                registry.select(name)
                st.rerun()
        if ss.get(keys.UPLOAD_ERROR):
            kind, message = ss[keys.UPLOAD_ERROR]
            getattr(st, kind)(text.literal(message))


def dataset_notice(name: str, error: object) -> None:
    """Say plainly that a dataset is not here and offer to fetch it; every waiting page sees the one download.

    Visitors see one short line; where the server looked (`error`) goes to the log, once per dataset.
    """
    if resources.log_once(MISSING_DATASET).first(name):
        log.warning("dataset %s is not available: %s", name, error)
    label = resources.dataset_label(name)
    st.warning(f"**{label} is not available on this server yet**, so training and the test-set views wait for it.",
               icon=":material/cloud_off:")
    st.fragment(_download_panel, run_every=1.0)(name, label)


def _download_panel(name: str, label: str) -> None:
    """The server's download of `name` (or the Download button); reruns itself while one runs."""
    server = resources.downloads()
    current = server.status(name) or server.running
    if current is not None and current.state is DownloadState.DONE and current.name == name:
        try:
            resources.dataset(name)
        except (DatasetNotFound, DatasetError) as e:
            log.error("dataset %s was downloaded but cannot be read: %s", name, e)
            st.error(downloads.FAILED_MESSAGE)
            return
        st.rerun()  # the whole page, now with the dataset
    if current is not None and current.state is DownloadState.RUNNING:
        what = label if current.name == name else resources.dataset_label(current.name)
        done = f"{current.filename}: {current.bytes_done / 1e6:.1f} MB" if current.filename else "starting"
        st.progress(current.fraction or 0.0, text=f"Downloading {what} on the server… {done}")
        return
    if current is not None and current.state is DownloadState.FAILED and current.name == name:
        st.error(current.message)
    if st.button(f"Download {label} (about 30–55 MB)", key=f"download-{name}", icon=":material/download:"):
        server.start(name)
        st.rerun()


# Streamlit leaves the sidebar open over the page after a tap on a page link on a phone, so the
# page the visitor asked for stays hidden until they find the close button. On narrow screens
# this closes it once the link is followed.
_CLOSE_SIDEBAR_ON_NAV = """
<script>
(() => {
  const doc = window.parent.document;
  if (doc.__digitLabNavClose) return;
  doc.__digitLabNavClose = true;
  doc.addEventListener('click', (event) => {
    if (window.parent.innerWidth > 640 || !event.target.closest('[data-testid="stSidebarNav"] a')) return;
    setTimeout(() => {
      const close = doc.querySelector('[data-testid="stSidebarCollapseButton"] button');
      if (close && close.offsetParent !== null) close.click();
    }, 150);
  }, true);
})();
</script>
"""


def _keep_client_cookie() -> str:
    """A script that makes the browser keep this session's client token (webapp.clients) for a year."""
    client = registry.client()
    if not client.new:
        return ""
    age = clients.COOKIE_DAYS * 24 * 3600
    return ("<script>window.parent.document.cookie = '%s=%s; Max-Age=%d; Path=/; SameSite=Lax'"
            " + (window.parent.location.protocol === 'https:' ? '; Secure' : '');</script>"
            % (clients.COOKIE, client.token, age))


# A primary button's label. Streamlit draws it white on the primary colour, which on the dark theme is a
# light orange (.streamlit/config.toml): white on it is 3:1, the dark background's colour 5.8:1. Hovered
# or focused (and not pressed), the button darkens to #cb441a, where white is 4.8:1 and dark 3.7:1, so the
# label turns white there. light-dark() follows the color-scheme Streamlit sets on .stApp from the theme
# in use (the menu's choice too, not only the browser's). A disabled button keeps Streamlit's colours.
#
# Buttons that show only an icon (in a container keyed keys.ICON_BUTTONS...): Streamlit names a button
# without words after its icon ("bar_chart icon"), so they have words, visually hidden as screen readers
# still read them.
#
# Charts: Streamlit's chart theme writes axis and legend text in a fixed grey on the light theme
# (#808495, 3.6:1 on its background). In the page's text colour at 75% it is 8:1 on either theme and
# still reads as secondary. CSS beats the fill attribute Vega's SVG sets (charts drawn on a canvas
# keep their colours: webapp.views.charts asks for SVG).
PAGE_STYLE = ('<style>[data-testid="stBaseButton-primary"]:not(:disabled){color:light-dark(#ffffff,#15171c)!important}'
              '[data-testid="stBaseButton-primary"]:not(:disabled):is(:hover,:focus-visible):not(:active)'
              '{color:#ffffff!important}'
              '.vega-embed svg :is(.role-axis-label,.role-axis-title,.role-legend-label,.role-legend-title,'
              '.role-title-subtitle) text{fill:currentColor;fill-opacity:.75}'
              '[class*="st-key-%s"] button [data-testid="stMarkdownContainer"]{position:absolute;width:1px;'
              'height:1px;overflow:hidden;clip-path:inset(50%%);white-space:nowrap}</style>' % keys.ICON_BUTTONS)


def page_scripts() -> None:
    """Once per page run, in the sidebar: the page's style (contrast, icon buttons), the client cookie (for a new
    browser) and the phone navigation fix."""
    with st.sidebar:
        st.html(PAGE_STYLE + _CLOSE_SIDEBAR_ON_NAV + _keep_client_cookie(), unsafe_allow_javascript=True,
                width="content")
