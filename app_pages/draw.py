"""Draw a digit and watch the network read it."""

import numpy as np
import streamlit as st

from mlp.explain import trace
from mlp.preprocess import preprocess, to_model_input
from webapp import images
from webapp.session import keys, registry, resources
from webapp.views import canvas, charts, display, inside, share, teach, ui

registry.init_session()
IMAGE_STYLE = ('<style>[data-testid="stMain"] img{image-rendering:pixelated}'
               '[data-testid="stMain"] [data-testid="stImage"]{gap:0.75rem}</style>')  # lists of images, spaced

st.title("Draw a digit")
st.caption("Draw one digit (0–9) in the black box, anywhere and at any size: the network reads it when you lift "
           "the pen, after cropping, scaling and centring it the way MNIST digits were.")


# A fragment: a stroke (or Clear, a model picked, a tab opened) reruns only this function, not the
# navigation, the sidebar and the rest of the page. Everything that depends on the drawing lives in
# it, so whatever a reading adds goes here too.
@st.fragment
def drawing_and_reading() -> None:
    """The canvas, the model, the reading with its bars and 28x28 input, sharing, and Inside the network."""
    with resources.turn():  # one session's run at a time: each reading arrives as soon as its own work is done
        _drawing_and_reading()


def _drawing_and_reading() -> None:
    left, right = st.columns(2, gap="large")
    with left:
        image = canvas.drawing_canvas()
        # A fixed height: the page does not jump when the first reading appears.
        reading = st.container(height=140, border=False)  # room for the metrics and the unsure badge
    with right:
        entry = registry.model_selector(keys.DRAW_MODEL,
                                        help="The shipped model, models you trained in this session, or an upload.")

    model = entry.current() if entry is not None else None
    linked = share.shared_drawing()  # a drawing=... link, until the visitor draws their own
    x28 = preprocess(image) if image is not None else linked
    if linked is not None and x28 is not None and not np.array_equal(x28, linked):
        share.drop_shared_drawing()  # a drawing of the visitor's own, not the one the link carries
    labels = ui.class_names(entry)
    x = to_model_input(x28) if model is not None and x28 is not None else None
    traced = trace(model, x) if x is not None else None  # every layer, once: the reading and the views below
    recalled = teach.recall(model, traced) if traced is not None else None  # a taught model's memory, if it has one
    probs = (recalled.probs if recalled is not None else traced.probs)[0] if traced is not None else None
    with reading:
        if entry is not None and model is None:
            st.info("This model has not finished its first epoch yet. Pick another model or wait a moment.")
        elif probs is None:
            st.info("Draw a digit on the canvas to see what the network reads.")
        else:
            said = teach.reading(entry, model, probs, labels)  # "?" when it is not sure
            row = st.container(horizontal=True)  # side by side on a phone too
            row.metric("Prediction", said.prediction)
            row.metric("Confidence", said.confidence)
            teach.reading_notes(said.note, recalled, labels)
    with left:
        teach.section(entry, model, x28)  # Wrong? It's a …, Your drawings, Teach the model
    with right:
        shown = probs if probs is not None else np.zeros(len(labels))
        bars = charts.probability_bars(shown, labels, highlight=probs is not None)
        st.vega_lite_chart(spec=charts.arrow_datasets(bars), width="stretch")
        with st.expander("What the network saw (28×28)", expanded=True):
            caption = ("The drawing from the link: draw on the canvas to replace it"
                       if image is None and x28 is not None
                       else "Cropped, scaled to 20 px, centred by mass" if x28 is not None else "Nothing drawn yet")
            seen = images.enlarge(x28 if x28 is not None else np.zeros((28, 28)), scale=8)
            st.image(images.png_data_url(seen), width=224, caption=caption,
                     alt=display.drawing_alt(x28 is not None, linked=image is None))
        if entry is not None:
            row = st.container(horizontal=True)
            with row:
                share.share_model_button(entry, key="share_model_draw")
                share.share_drawing_button(entry, x28)
            share.show_notice()

    if model is not None:
        st.subheader("Inside the network")
        inside.section(entry, model, x, traced, labels)


drawing_and_reading()
# Below both columns: on a phone, where columns stack, the reading comes right after the canvas.
ui.upload_model_expander()
# Once per page run, outside the fragment, where it went out again with every stroke: the canvas's
# style and script (Clear is the canvas's own reset), the correction pills' wrapping, and digit
# images enlarged without smoothing (every image on this page is a digit's or a unit's pixels,
# most sent small for the browser to enlarge).
st.html(canvas.SCRIPT + teach.STYLE + IMAGE_STYLE, unsafe_allow_javascript=True, width="content")
