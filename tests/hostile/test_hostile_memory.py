"""A hostile visitor against the server's memory: small files that would cost gigabytes, runs that cannot fit,
and one budget that every visitor's models share, given back when a visitor leaves."""

import base64
import io
import os
import time
import uuid

from PIL import Image
from visitors import Visitor, rss_mb, server

from harness import PATIENCE, draw_stroke
from harness.hostile import zeros_model_file
from harness.pages import settle
from mlp import MLP, model_to_bytes


def test_a_small_file_that_declares_a_huge_model_is_refused_before_it_is_read(chromium, sqlite_store):
    bomb = zeros_model_file([784, 6500, 6500, 10], "float64")  # 47M parameters: 362 MB of weights
    assert len(bomb) < 500_000
    with server(sqlite_store) as (proc, url):
        visitor = Visitor(chromium, url)
        visitor.open()
        for i in range(5):
            if i == 1:  # measured from the first refusal on: the upload's own code and buffers are then loaded
                settle(visitor.page)
                before = rss_mb(proc)
            visitor.upload(f"zeros{i}.npz", bomb)
            visitor.page.get_by_text(f"zeros{i}.npz was not loaded").wait_for()
        text = visitor.main_text()
        assert "would take 361.8 MB of memory, over this server's limit of 32.0 MB per model" in text
        assert rss_mb(proc) - before < 60, (before, rss_mb(proc))  # four more uploads: no model was ever built
        assert visitor.selected_model().startswith("Pretrained")
        visitor.close()


def test_a_train_link_that_cannot_fit_is_refused_before_start(chromium, sqlite_store):
    with server(sqlite_store) as (proc, url):
        visitor = Visitor(chromium, url)
        for _ in range(2):  # the dataset, the page's charts, ...: what any first visit loads, link or not
            visitor.open("train")
        before = rss_mb(proc)
        page = visitor.open("train?hidden=4096,4096,4096,4096,4096,4096&epochs=200")
        page.get_by_text("weights take 332.5 MB, over this server's limit of 32.0 MB per model").first.wait_for()
        assert page.get_by_role("button", name="Start").is_disabled()
        assert rss_mb(proc) - before < 60
        visitor.close()


def model_file(hidden, seed=0):
    return model_to_bytes(MLP([784, hidden, 10], seed=seed))


def test_every_visitors_models_share_one_budget_given_back_when_they_leave(chromium, sqlite_store):
    """A 784-1500-10 model holds 9.1 MB (its weights and their gradient arrays): a browser may hold two,
    the server three; a visitor who leaves gives theirs back."""
    limits = dict(client_memory_mb=25, address_memory_mb=45, memory_budget_mb=30)
    # Streamlit drops a closed tab's session after this many seconds (its default is two minutes).
    with server(sqlite_store, **limits, ) as (proc, url):
        first = Visitor(chromium, url)
        first.open()
        for i in range(2):
            first.upload(f"first{i}.npz", model_file(1500, i))
            first.page.get_by_text("first%d" % i).first.wait_for()
        first.upload("first2.npz", model_file(1500, 2))
        first.page.get_by_text("first2.npz was not loaded").wait_for()
        assert "your models already take 18 of the 25 MB one browser may use" in first.main_text()

        tab = first.new_tab()  # the same browser in another tab is the same client
        first.open()
        first.upload("tab.npz", model_file(1500, 3))
        tab.get_by_text("tab.npz was not loaded").wait_for()

        second = Visitor(chromium, url)
        second.open()
        second.upload("second0.npz", model_file(1500, 4))
        second.page.get_by_text("second0").first.wait_for()
        second.upload("second1.npz", model_file(1500, 5))
        second.page.get_by_text("second1.npz was not loaded").wait_for()
        assert "the server is holding as many models as its memory allows" in second.main_text()

        first.close()  # the first visitor leaves: their session ends, their models leave the budget
        deadline = time.monotonic() + PATIENCE
        while True:
            second.upload("second2.npz", model_file(1500, 6))
            settle(second.page)
            if "second2.npz was not loaded" not in second.main_text():
                break
            assert time.monotonic() < deadline, "the first visitor's models were never given back"
            time.sleep(3)
        second.close()


def test_uploads_streamlit_holds_are_one_per_session_and_capped_in_all(chromium, sqlite_store):
    """Refused files, and files PUT straight to Streamlit's upload route under new ids, do not pile up."""
    junk = os.urandom(16 * 1024 * 1024)
    with server(sqlite_store, uploads_mb=40) as (proc, url):
        visitor = Visitor(chromium, url)
        puts = []
        visitor.page.on("request", lambda r: puts.append((r.url, r.headers)) if r.method == "PUT" else None)
        visitor.open()
        visitor.upload("first.npz", junk)  # the first one grows the server's buffers once: the baseline is after it
        visitor.wait_for_text("first.npz was not loaded")
        before = rss_mb(proc)
        for i in range(3):
            visitor.upload(f"junk{i}.npz", junk)
            visitor.wait_for_text(f"junk{i}.npz was not loaded")
        assert rss_mb(proc) - before < 24, (before, rss_mb(proc))  # read, refused and dropped: kept, 48 MB more
        put_url, headers = puts[-1]
        session = put_url.rsplit("/", 2)[-2]
        statuses = []
        for _ in range(4):
            r = visitor.page.request.put(
                f"{url}/_stcore/upload_file/{session}/{uuid.uuid4()}", headers={"X-Xsrftoken": headers["x-xsrftoken"]},
                multipart={"file": {"name": "a.npz", "mimeType": "application/octet-stream", "buffer": junk}})
            statuses.append(r.status)
        assert statuses == [204] * 4  # each replaces the one before: one file per session
        assert rss_mb(proc) - before < 40, (before, rss_mb(proc))  # one file held (16 MB); kept, four would be 64
        other = Visitor(chromium, url)
        other.open()
        other.upload("third.npz", junk)  # 16 + 16 MB held: within 40 MB
        other.wait_for_text("third.npz was not loaded")
        visitor.close()
        other.close()


def test_a_canvas_drawing_that_declares_a_huge_picture_is_not_decoded(chromium, sqlite_store):
    """A page whose canvas sends a 13000x13000 PNG (0.9 MB as a data URL, 676 MB decoded) reads as an empty canvas."""
    with server(sqlite_store) as (proc, url):
        visitor = Visitor(chromium, url)
        page = visitor.open()
        # A real stroke first: reading a drawing loads what any first reading loads (the model's buffers, the
        # charts), so what is measured after it is the picture's cost alone.
        draw_stroke(page, [(140, 40), (140, 120), (140, 240)])
        page.locator('[data-testid="stMetric"]').filter(has_text="Prediction").first.wait_for()
        settle(page)
        before = rss_mb(proc)
        bomb = zeros_png_data_url(13000)
        page.evaluate("url => { HTMLCanvasElement.prototype.toDataURL = () => url; }", bomb)
        draw_stroke(page, [(140, 40), (140, 240)], steps=8)
        settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        visitor.wait_for_text("Draw a digit on the canvas to see what the network reads")
        assert rss_mb(proc) - before < 60, (before, rss_mb(proc))
        visitor.close()


def zeros_png_data_url(side):
    buf = io.BytesIO()
    Image.new("L", (side, side)).save(buf, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
