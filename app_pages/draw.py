"""Draw a digit and watch the network read it."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from mlp import ModelFileError
from mlp.preprocess import preprocess, to_model_input
from webapp import charts, images, state, toolbar
from webapp.settings import MAX_UPLOAD_MB

state.init_session()
ss = st.session_state
ss.setdefault("canvas_round", 0)
state.keep_widgets({"brush": 18})

st.title("Draw a digit")
st.caption(
    "Draw a single digit (0–9) in the black box with your mouse or finger. The network reads it "
    "as soon as you lift the pen. Draw it anywhere, at any size: it is cropped, scaled and centred "
    "the way MNIST digits were before the network sees it."
)

left, right = st.columns([1, 1], gap="large")
with left:
    entry = state.model_selector("draw_model", help="The shipped model, models you trained in this session, or an upload.")
    brush = st.slider("Brush width", 6, 40, key="brush", help="Pixels on the 280×280 canvas.")
    # Clear hands the canvas a new, empty initial drawing (the count makes it new): the canvas
    # wipes itself in place and sends the empty drawing back. Remounting it under a new key
    # instead left a moment in which a fresh stroke fell on a canvas not yet listening.
    canvas = st_canvas(
        stroke_width=brush,
        stroke_color="#FFFFFF",
        background_color="#000000",
        height=280,
        width=280,
        drawing_mode="freedraw",
        initial_drawing={"objects": [], "cleared": ss.canvas_round},
        return_image_data=True,
        key="canvas",
    )
    sent = canvas.image_bytes if canvas is not None else None  # the PNG the canvas last sent
    drawing = sent
    if sent is not None and sent == ss.get("cleared_drawing"):
        drawing = None  # what was cleared, until the canvas sends its empty drawing back
    else:
        ss.cleared_drawing = None
    if st.button("Clear", key="clear", icon=":material/ink_eraser:"):
        ss.canvas_round += 1
        ss.cleared_drawing = sent
        st.rerun()

with right:
    model = entry.current()
    image = canvas.image_data if drawing is not None else None
    x28 = preprocess(image) if image is not None else None
    if model is None:
        st.info("This model has not finished its first epoch yet. Pick another model or wait a moment.")
    elif x28 is None:
        st.info("Draw a digit on the canvas to see what the network reads.")
    else:
        probs = model.predict_proba(to_model_input(x28))[0]
        digit = int(probs.argmax())
        labels = state.class_names(entry.dataset)
        m1, m2 = st.columns(2)
        m1.metric("Prediction", labels[digit])
        m2.metric("Confidence", f"{probs[digit]:.1%}")
        st.altair_chart(charts.probability_bars(probs, labels), width="stretch")
        with st.expander("What the network saw (28×28)", expanded=True):
            st.image(images.enlarge(x28, scale=8), caption="Cropped, scaled to 20 px, centred by mass", width=224)

# Below both columns: on a phone, where columns stack, the prediction then comes right after the canvas.
with st.expander("Use your own model (.npz)"):
    upload = st.file_uploader("Upload a model file saved by Digit Lab", type=["npz"], key="upload")
    if upload is not None and ss.get("uploaded_id") != upload.file_id:
        ss.uploaded_id = upload.file_id
        try:
            uploaded = state.read_upload(upload.name, upload.getvalue(), MAX_UPLOAD_MB)
        except ModelFileError as e:
            ss.upload_error = str(e)
        else:
            ss.upload_error = None
            name = state.next_model_name("Uploaded")
            state.add_model(state.ModelEntry(name, "uploaded", model=uploaded))
            ss.selected_model = name
            st.rerun()
    if ss.get("upload_error"):
        st.error(ss.upload_error)

toolbar.keep_off_canvas()
