"""Crafted files and a damaged store: a page never crashes, and says what is wrong."""

import sqlalchemy as sa
from visitors import Visitor, server

from harness.hostile import deep_metadata_file, model_file_with_meta
from harness.pages import settle
from webapp.store import MODELS

CRAFTED = {"history": ["one", "two"], "training": ["adam", "lr 0.001"], "drawn_digits": {"n": "2000", "accuracy": 0.9},
           "per_class_accuracy": "all of them", "test_accuracy": "99%", "unsure": {"threshold": "low"},
           "class_names": [["nested"]], "dataset": "<b>mnist</b>"}


def no_exception(visitor):
    assert visitor.page.locator('[data-testid="stException"]').count() == 0, visitor.main_text()[:2000]


def test_a_shared_model_with_metadata_of_the_wrong_types_opens_everywhere(chromium, store_url):
    with server(store_url) as (proc, url):
        attacker = Visitor(chromium, url)
        attacker.open()
        attacker.upload("crafted.npz", model_file_with_meta(CRAFTED))
        attacker.wait_for_text("crafted was loaded, but these details in it were not readable and were left out")
        assert "Share model" in attacker.main_text()
        attacker.share()
        link = attacker.page.url
        attacker.close()

        victim = Visitor(chromium, url)
        victim.open("?" + link.split("?", 1)[1])
        assert victim.selected_model().startswith("crafted (shared)")
        for path in ("inspect", "train"):
            victim.page.goto(link.replace("/?", f"/{path}?"))
            settle(victim.page)
            no_exception(victim)
        # Inspect's tabs all run with the page (st.tabs): one visit, each tab opened and looked at.
        victim.page.goto(link.replace("/?", "/inspect?"))
        settle(victim.page)
        for tab in ("Weights", "Compare with another model", "Watch it learn", "Calibration"):
            victim.page.get_by_role("tab", name=tab).click()
            settle(victim.page)
            no_exception(victim)
        victim.close()


def test_metadata_nested_100000_deep_is_refused_with_a_message(chromium, sqlite_store):
    with server(sqlite_store) as (proc, url):
        visitor = Visitor(chromium, url)
        visitor.open()
        visitor.upload("deep.npz", deep_metadata_file(100_000))
        visitor.wait_for_text("deep.npz was not loaded: metadata nests 100,001 levels deep; at most 16 are read")
        no_exception(visitor)
        assert visitor.selected_model().startswith("Pretrained")
        visitor.close()


def test_a_damaged_store_says_sharing_is_unavailable_and_the_app_keeps_working(chromium, tmp_path):
    path = tmp_path / "store.sqlite"
    with server(f"sqlite:///{path}") as (proc, url):
        visitor = Visitor(chromium, url)
        visitor.open()
        visitor.upload("mine.npz", model_file_with_meta({}))
        assert "link gets" in visitor.share()
        link = visitor.page.url
        visitor.close()
    path.write_bytes(b"this is not a database" * 4096)  # the disk, a bad copy, a crash: the rows may be there
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    with server(f"sqlite:///{path}") as (proc, url):
        reader = Visitor(chromium, url)
        reader.open("?" + link.split("?", 1)[1])
        reader.wait_for_text("Sharing is unavailable on this server right now")
        text = reader.main_text()
        assert "Sharing is unavailable on this server right now" in text and "never shared" not in text
        assert reader.selected_model().startswith("Pretrained")
        from harness import canvas_ready, draw_stroke
        from harness.pages import prediction

        canvas_ready(reader.page)
        draw_stroke(reader.page, [(140, 40), (140, 240)], steps=8)
        assert prediction(reader.page)  # Draw still reads
        reader.go("Gallery")
        reader.wait_for_text("The gallery is not available on this server right now")
        no_exception(reader)
        reader.close()


def test_names_that_pass_for_the_pretrained_model_are_refused(chromium, store_url):
    with server(store_url) as (proc, url):
        visitor = Visitor(chromium, url)
        visitor.open()
        visitor.upload("mine.npz", model_file_with_meta({}))
        visitor.page.get_by_text("mine").first.wait_for()  # loaded and selected: the model Publish offers
        page = visitor.go("Gallery")
        page.get_by_text("Publish one of your models").click()
        page.get_by_label("Name in the gallery").wait_for()
        settle(page)  # the page's reruns after the upload are over: a click now is not lost to one
        for name, why in (("\u0420retrained", "may not look like the app's own 'Pretrained' model"),
                          ("Pre\u200btrained", "may not contain invisible, control or formatting characters"),
                          ("x" + "\u0301\u0302\u0303" * 26, "may not stack more than 2 accents")):
            page.get_by_label("Name in the gallery").fill(name)
            settle(page)
            page.get_by_role("button", name="Publish").click()
            settle(page)
            visitor.wait_for_text(f"Not published: a model name {why}")
        engine = sa.create_engine(store_url)
        with engine.connect() as conn:
            assert conn.scalar(sa.select(sa.func.count()).select_from(MODELS)) == 0
        engine.dispose()
        visitor.close()
