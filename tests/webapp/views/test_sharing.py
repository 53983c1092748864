"""Sharing through the store, as visitors meet it (AppTest, no browser): Share model, Share drawing,
links opened in another session, the Gallery and its class leaderboard, and hostile or broken input.

Every test gets a fresh SQLite store (DIGIT_LAB_STORE_URL in a tmp folder) and empty process-wide
caches (the store is a cache_resource). Sessions opened one after another in a test share that
store, as two browsers share a server.
"""

import base64
import json
import re
import resource
import zlib
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from drawn.score import drawn_inputs, score_drawn
from harness import canvas_data_url, canvas_value
from harness.apptest import APP, TIMEOUT, metrics, plain
from mlp import MLP, to_inputs
from webapp import text
from webapp.session import registry, resources
from webapp.session.registry import ModelEntry, ModelKind
from webapp.store import MODELS, Store, create_engine, new_id, valid_id
from webapp.views import gallery as gallery_parts
from webapp.views.links import MAX_LINK_CHARS, encode_drawing

UNAVAILABLE = "The link you opened names a model that is not available here"
NO_SHARING = "Sharing is not available on this server right now"
BROWSER_URL = "http://localhost:8501/"  # what the browser reports as st.context.url
DIGIT = 0  # MNIST test image drawn on the canvas


@pytest.fixture(autouse=True)
def store_url(empty_store):
    """Every test: an empty store of its own and empty caches (tests/conftest.py; the run's limits are the defaults)."""
    return empty_store


@pytest.fixture(autouse=True)
def memory_cap():
    """At most 4 GB more address space per test: a runaway allocation fails the test, not the machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * resource.getpagesize()
    cap = used + 4 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))




# -- helpers -------------------------------------------------------------------------------------


def open_at(page=None, **query):
    """A new browser session opening the app at `page` (straight there, as a typed address does)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.context = {"url": BROWSER_URL}
    for k, v in query.items():
        at.query_params[k] = v
    if page:
        at.switch_page(f"app_pages/{page}.py")
    return ok(at.run())


def ok(at):
    assert not at.exception, at.exception
    return at


def add_model(at, name, accuracy=None, seed=1, select=False):
    """An uploaded 784-32-10 model in the session (with a claimed test accuracy, if given)."""
    model = MLP([784, 32, 10], seed=seed)
    if accuracy is not None:
        model.meta["test_accuracy"] = accuracy
    entry = ModelEntry(name, ModelKind.UPLOADED, model=model)
    at.session_state["models"][name] = entry
    if select:
        at.session_state["selected_model"] = name
    ok(at.run())
    return entry


def draw(at, mnist, index=DIGIT):
    at.session_state["canvas"] = canvas_value(canvas_data_url(mnist.x_test[index]))
    return ok(at.run())


def texts(elements):
    return [e.value for e in elements]


def notice_link(at):
    """The query of the link the share notice shows (in an st.code block): param -> value."""
    links = [c.value for c in at.code if "?" in c.value]
    assert len(links) == 1, links
    assert links[0].startswith(BROWSER_URL.rstrip("/")), links[0]
    return {k: v[0] for k, v in parse_qs(urlsplit(links[0]).query).items()}


def share_on_draw(at):
    return ok(at.button(key="share_model_draw").click().run())


def pack(raw):
    return "1." + base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


def cards(at):
    """The Gallery's cards in page order: {"rank", "name", "test", "caption", "picture", "draw", "inspect"}.

    "draw" and "inspect" are the query of the card's page links; "picture" its image's source.
    """
    heads = [plain(h.value) for h in at.subheader if re.match(r"\d+\\\. ", h.value)]
    tests = [m.value for m in at.metric if m.label == "Test accuracy"]
    captions = [plain(c.value) for c in at.caption if plain(c.value).startswith("drawn digits ")]
    pictures = [img.url for el in at.get("image") for img in el.proto.imgs]
    links = {"": [], "inspect": []}
    for link in at.get("page_link"):
        links[link.proto.page].append(dict(parse_qs(link.proto.query_string)))
    assert len(heads) == len(tests) == len(captions) == len(pictures) == len(links[""]) == len(links["inspect"])
    return [{"rank": int(h.split(".")[0]), "name": h.split(". ", 1)[1], "test": t, "caption": c, "picture": p,
             "draw": d, "inspect": i}
            for h, t, c, p, d, i in zip(heads, tests, captions, pictures, links[""], links["inspect"])]


def board(at):
    """The class leaderboard's HTML (st.html), or None."""
    found = [h.proto.body for h in at.get("html") if "dl-board" in h.proto.body and "<ol>" in h.proto.body]
    return found[0] if found else None


def board_rows(at):
    """(rank, name, test accuracy) of each leaderboard line, as a person reads them."""
    import html

    lines = re.findall(r'<span class="rank">(\d+)</span><span class="name">(.*?)</span><span class="acc">(.*?)</span>',
                       board(at) or "")
    return [(int(r), html.unescape(n), a) for r, n, a in lines]


# -- (1) Share model, opened in another session ----------------------------------------------------


@pytest.fixture
def shared_model(mnist):
    """A session that shared its uploaded model "Mine" from Draw: (that session, the store id)."""
    at = open_at()
    add_model(at, "Mine", select=True)
    assert at.selectbox(key="draw_model").value == "Mine"
    share_on_draw(at)
    model_id = at.query_params.get("model")
    assert valid_id(model_id), model_id
    assert at.session_state["models"]["Mine"].shared
    assert any("Anyone with this link gets **Mine**" in s for s in texts(at.success)), texts(at.success)
    assert notice_link(at) == {"model": model_id}
    return at, model_id


def test_shared_model_opens_on_draw_in_another_session_and_reads_the_same(mnist, shared_model):
    first, model_id = shared_model
    mine = metrics(draw(first, mnist))
    assert set(mine) == {"Prediction", "Confidence"}

    other = open_at(model=model_id)
    name = other.selectbox(key="draw_model").value
    assert name == "Mine (shared)", name
    assert other.session_state["models"][name].kind is ModelKind.SHARED
    assert not any(UNAVAILABLE in w for w in texts(other.warning))
    assert metrics(draw(other, mnist)) == mine
    assert other.query_params.get("model") == model_id


def test_shared_model_opens_on_inspect_with_its_architecture(mnist, shared_model):
    _, model_id = shared_model
    at = open_at("inspect", model=model_id)
    assert at.selectbox(key="inspect_model").value == "Mine (shared)"
    m = metrics(at)
    assert m["Hidden layers"] == "32"
    assert m["Parameters"] == f"{784 * 32 + 32 + 32 * 10 + 10:,}"
    assert any("784 → 32 → 10" in c for c in texts(at.caption)), texts(at.caption)
    assert at.query_params.get("model") == model_id


def test_shared_model_opens_on_train_preselected_for_continue(mnist, shared_model):
    _, model_id = shared_model
    at = open_at("train", model=model_id)
    assert at.selectbox(key="cont_model").value == "Mine (shared)"
    # With a model of its own already there, the link's model is still the one preselected.
    at = open_at("train")
    add_model(at, "Own model", seed=2)
    assert at.selectbox(key="cont_model").value == "Own model"
    at.query_params["model"] = model_id
    ok(at.run())
    assert at.selectbox(key="cont_model").value == "Mine (shared)"


def test_share_model_on_trains_model_list(mnist):
    at = open_at("train")
    entry = add_model(at, "Listed")
    ok(at.button(key="share-Listed").click().run())
    assert entry.shared and valid_id(entry.link_id)
    assert at.query_params.get("model") == entry.link_id
    assert notice_link(at) == {"model": entry.link_id}


# -- (2) unknown and hostile model links ----------------------------------------------------------


@pytest.mark.parametrize("model_id", [
    pytest.param(new_id(), id="valid-looking random id"),
    pytest.param("'; DROP TABLE models;--", id="sql"),
    pytest.param("A" * 5000, id="5000 chars"),
    pytest.param("../../etc/passwd", id="path"),
    pytest.param("模型\u202e\U0001f600é", id="unicode"),
])
def test_unknown_or_hostile_model_link_says_so_and_shows_the_pretrained_model(mnist, store_url, model_id):
    at = open_at(model=model_id)
    assert any(UNAVAILABLE in w for w in texts(at.warning)), texts(at.warning)
    assert at.selectbox(key="draw_model").value == "Pretrained"
    assert metrics(draw(at, mnist))["Prediction"] == str(mnist.y_test[DIGIT])
    with create_engine(store_url).connect() as conn:  # the store is intact
        assert {"models", "collections", "alembic_version"} <= set(sa.inspect(conn).get_table_names())


# -- (3) Share drawing -------------------------------------------------------------------------------


def test_share_drawing_puts_the_drawing_in_the_address_bar(mnist):
    at = draw(open_at(), mnist)
    ok(at.button(key="share_drawing").click().run())
    assert "drawing" in at.query_params


def test_shared_drawing_with_the_pretrained_model_reopens_with_the_same_reading(mnist):
    at = draw(open_at(), mnist)
    reading = metrics(at)
    ok(at.button(key="share_drawing").click().run())
    link = notice_link(at)
    assert set(link) == {"drawing"}  # the pretrained model needs no model=
    assert "model" not in at.query_params

    other = open_at(**link)
    assert other.selectbox(key="draw_model").value == "Pretrained"
    assert metrics(other) == reading
    assert not texts(other.warning)
    assert any("drawing from the link" in (img.caption or "") for el in other.get("image") for img in el.proto.imgs)


def test_shared_drawing_with_an_uploaded_model_carries_both(mnist):
    at = open_at()
    entry = add_model(at, "Mine", select=True)
    reading = metrics(draw(at, mnist))
    ok(at.button(key="share_drawing").click().run())
    link = notice_link(at)
    assert set(link) == {"model", "drawing"}
    assert link["model"] == entry.link_id == at.query_params.get("model") and valid_id(entry.link_id)

    other = open_at(**link)
    assert other.selectbox(key="draw_model").value == "Mine (shared)"
    assert metrics(other) == reading


@pytest.mark.parametrize("text, problem", [
    ("", "empty"),
    ("1." + "A" * (MAX_LINK_CHARS + 1), "too long"),
    ("garbage!", "not in a format"),
    ("1.!!!not base64!!!", "damaged"),
    (encode_drawing(np.full((28, 28), 0.5, np.float32))[:-20], "damaged"),
    (pack(b"\0" * 2_000_000), "not a 28×28"),  # a zip bomb
    (pack(np.full((28, 28), np.nan, "<f4").tobytes()), "outside 0 to 1"),
    ("1.'; DROP TABLE models;--", "damaged"),
])
def test_hostile_drawing_link_is_explained_and_gives_no_reading(text, problem):
    at = open_at(drawing=text)
    warned = [w for w in texts(at.warning) if "drawing in this link" in w]
    assert len(warned) == 1 and problem in warned[0], texts(at.warning)
    assert "Prediction" not in metrics(at)
    assert "drawing" not in at.query_params


def test_drawing_on_the_canvas_drops_the_links_drawing(mnist):
    link = {"drawing": encode_drawing(np.asarray(mnist.x_test[1], np.float32) / 255)}
    at = open_at(**link)
    assert "Prediction" in metrics(at)
    assert at.query_params.get("drawing") == link["drawing"]
    draw(at, mnist)
    assert "drawing" not in at.query_params
    assert metrics(at)["Prediction"] == str(mnist.y_test[DIGIT])


# -- (4) per-session share limit ------------------------------------------------------------------


def test_a_session_over_its_hourly_share_allowance_is_told_why(mnist, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_SHARES_PER_HOUR", "1")
    at = open_at()
    first = add_model(at, "First", select=True)
    share_on_draw(at)
    assert first.shared
    second = add_model(at, "Second", select=True)
    share_on_draw(at)
    errors = texts(at.error)
    assert any(e.startswith("The model was not shared: ") for e in errors), errors
    assert not second.shared and not valid_id(second.link_id)
    assert not at.code  # no link to copy


# -- (5) Gallery ------------------------------------------------------------------------------------


def publish(at, name, code=""):
    at.selectbox(key="publish_model").set_value(name)
    ok(at.run())
    at.text_input(key="publish_class").set_value(code)
    ok(at.button(key="publish").click().run())
    assert any(f"Published **{text.literal(name)}**" in s for s in texts(at.success)), (texts(at.success),
                                                                                        texts(at.error))


def claimed_scores(entry):
    """What a model's file claims: these tests' models are untrained stand-ins for ones of 91%, 95% and 99%."""
    return {"test_accuracy": entry.model.meta.get("test_accuracy"), "drawn_accuracy": None}


@pytest.fixture
def gallery(monkeypatch):
    """Three published models: Alpha (91%) and Beta (95%) in class 7b, Gamma (99%) in none."""
    monkeypatch.setattr(registry, "measured_scores", claimed_scores)
    at = open_at("gallery")
    assert any("Nothing published" in i for i in texts(at.info))
    for name, acc, seed in [("Alpha", 0.91, 1), ("Beta", 0.95, 2), ("Gamma", 0.99, 3)]:
        add_model(at, name, accuracy=acc, seed=seed)
    publish(at, "Alpha", "7b")
    publish(at, "Beta", "7b")
    publish(at, "Gamma")
    return at


def test_published_models_are_cards_with_their_test_accuracy(gallery, store_url):
    shown = cards(ok(gallery.run()))
    assert [(c["rank"], c["name"], c["test"]) for c in shown] == [
        (1, "Gamma", "99.00%"), (2, "Beta", "95.00%"), (3, "Alpha", "91.00%")]
    assert not gallery.dataframe  # cards, not a table cut off at the right edge
    ids = {r["name"]: r["id"] for r in Store(create_engine(store_url)).list_published()}
    for c in shown:
        assert c["draw"] == c["inspect"] == {"model": [ids[c["name"]]]}
        # Missing values are a dash, never "None"; a model's class and the day it was added are given.
        assert c["caption"].startswith("drawn digits — · 784-32-10 relu · 0 epochs · — ")
        assert "None" not in c["caption"]
    assert "class 7b" in shown[1]["caption"] and "class" not in shown[0]["caption"]


def test_each_card_shows_the_thumbnail_made_when_the_model_was_published(gallery, store_url):
    rows = Store(create_engine(store_url)).list_published()
    assert all(r["thumbnail"].startswith("data:image/png;base64,") and len(r["thumbnail"]) < 8000 for r in rows)
    assert [c["picture"] for c in cards(ok(gallery.run()))] == [r["thumbnail"] for r in rows]


def test_a_model_published_before_thumbnails_shows_a_placeholder(gallery, store_url):
    engine = create_engine(store_url)
    with engine.begin() as conn:  # a row as an older version of the app stored it: no thumbnail
        row = conn.execute(sa.select(MODELS.c.id, MODELS.c.summary).where(MODELS.c.name == "Beta")).one()
        summary = json.loads(row.summary)
        del summary["thumbnail"]
        conn.execute(sa.update(MODELS).where(MODELS.c.id == row.id).values(summary=json.dumps(summary)))
    shown = {c["name"]: c for c in cards(ok(gallery.run()))}
    assert shown["Beta"]["picture"] == gallery_parts.placeholder()
    assert shown["Alpha"]["picture"] != gallery_parts.placeholder()


def test_class_code_link_shows_that_class_leaderboard(gallery):
    at = open_at("gallery", **{"class": "7b"})
    assert at.text_input(key="gallery_class").value == "7b"
    assert "Class 7b: leaderboard" in texts(at.subheader)
    assert board_rows(at) == [(1, "Beta", "95.00%"), (2, "Alpha", "91.00%")]
    assert [(c["rank"], c["name"]) for c in cards(at)] == [(1, "Beta"), (2, "Alpha")]


def test_the_leaderboard_ranks_by_test_accuracy_whatever_the_cards_sort(gallery):
    at = open_at("gallery", **{"class": "7b", "sort": "name"})
    assert board_rows(at) == [(1, "Beta", "95.00%"), (2, "Alpha", "91.00%")]
    assert [c["name"] for c in cards(at)] == ["Alpha", "Beta"]


def test_the_leaderboard_shows_a_model_another_session_publishes(gallery):
    teacher = open_at("gallery", **{"class": "7b"})
    assert [n for _, n, _ in board_rows(teacher)] == ["Beta", "Alpha"]
    student = open_at("gallery", **{"class": "7b"})
    add_model(student, "Delta", accuracy=0.97, seed=4)
    publish(student, "Delta", "7b")
    assert [n for _, n, _ in board_rows(ok(teacher.run()))] == ["Delta", "Beta", "Alpha"]


def test_a_hostile_name_on_the_leaderboard_is_shown_as_text(gallery):
    name = '<img src=x onerror=alert(1)> **bold** :red[x]'
    add_model(gallery, name, accuracy=0.5, seed=5)
    publish(gallery, name, "7b")
    at = open_at("gallery", **{"class": "7b"})
    html_ = board(at)
    assert "<img" not in html_ and "&lt;img src=x onerror=alert(1)&gt;" in html_
    assert board_rows(at)[-1] == (3, name, "50.00%")
    assert cards(at)[-1]["name"] == name


def test_projector_view_shows_the_leaderboard_alone(gallery):
    at = open_at("gallery", **{"class": "7b", "projector": "1"})
    assert not at.title and not cards(at) and not at.text_input  # no page title, cards or Publish form
    assert board_rows(at) == [(1, "Beta", "95.00%"), (2, "Alpha", "91.00%")]
    assert any("Class 7b" in h.proto.body for h in at.get("html"))
    at.toggle(key="gallery_projector").set_value(False).run()
    assert at.title[0].value == "Gallery" and len(cards(at)) == 2
    assert "projector" not in at.query_params and at.query_params["class"] == "7b"


@pytest.mark.parametrize("code", ["<script>alert(1)</script>", "x" * 100, "a b", "'; DROP TABLE models;--"])
def test_hostile_class_code_falls_back_to_all_models(gallery, code):
    at = open_at("gallery", **{"class": code})
    assert "Published models" in texts(at.subheader)
    assert sorted(c["name"] for c in cards(at)) == ["Alpha", "Beta", "Gamma"]
    assert board(at) is None


def test_sort_by_name_link(gallery):
    at = open_at("gallery", sort="name")
    assert at.selectbox(key="gallery_sort").value == "name"
    assert [c["name"] for c in cards(at)] == ["Alpha", "Beta", "Gamma"]


def test_a_published_models_draw_link_opens_it(gallery):
    card = next(c for c in cards(ok(gallery.run())) if c["name"] == "Alpha")
    model_id = card["draw"]["model"][0]
    assert valid_id(model_id)
    at = open_at(model=model_id)
    assert at.selectbox(key="draw_model").value == "Alpha (shared)"
    at = open_at("inspect", model=card["inspect"]["model"][0])
    assert at.selectbox(key="inspect_model").value == "Alpha (shared)"


def test_a_published_model_is_ranked_by_what_the_server_measures_not_by_what_its_file_claims(mnist, monkeypatch,
                                                                                              store_url):
    monkeypatch.setattr(resources, "DRAWN_N", 200)  # a smaller drawn set than the server's 2,000, for speed
    at = open_at("gallery")
    entry = add_model(at, "Boastful", accuracy=0.999)
    entry.model.meta["drawn_digits"] = {"n": 2000, "accuracy": 0.998, "per_class_accuracy": [0.998] * 10}
    publish(at, "Boastful", "7b")
    test = entry.model.evaluate(to_inputs(mnist.x_test), mnist.y_test.astype(np.int64)).accuracy
    drawn = score_drawn(entry.model, drawn_inputs(200, 0, dataset=mnist))["accuracy"]
    assert test < 0.5 and drawn < 0.5  # untrained
    row = Store(create_engine(store_url)).list_published()[0]
    assert (row["test_accuracy"], row["drawn_accuracy"]) == (pytest.approx(test), pytest.approx(drawn))
    assert [c["test"] for c in cards(ok(at.run()))] == [f"{test:.2%}"]


def test_publish_follows_the_class_typed_on_the_page_and_takes_names_as_long_as_the_store(gallery):
    at = gallery
    at.text_input(key="gallery_class").input("room-9").run()
    assert at.text_input(key="publish_class").value == "room-9"
    at.selectbox(key="publish_model").set_value("Alpha").run()
    field = at.text_input(key="publish_name-Alpha")
    assert field.proto.max_chars == text.NAME_MAX == 80
    long_name = "A" * 80
    field.input(long_name).run()
    ok(at.button(key="publish").click().run())
    assert any("in class room-9" in plain(s) for s in texts(at.success)), (texts(at.success), texts(at.error))
    assert board_rows(at)[0][1] == long_name


# -- (6) store unreachable -----------------------------------------------------------------------------


UNREACHABLE = [
    pytest.param("sqlite:////proc/digit-lab-no-such-folder/store.sqlite", id="sqlite in a read-only place"),
    pytest.param("postgresql+psycopg://nobody@127.0.0.1:1/x", id="postgresql nobody listening"),
]


@pytest.mark.parametrize("url", UNREACHABLE)
def test_without_a_store_draw_still_reads_and_sharing_says_it_is_unavailable(mnist, monkeypatch, url):
    monkeypatch.setenv("DIGIT_LAB_STORE_URL", url)
    at = draw(open_at(), mnist)
    assert metrics(at)["Prediction"] == str(mnist.y_test[DIGIT])
    entry = add_model(at, "Mine", select=True)
    share_on_draw(at)
    assert any(NO_SHARING in e for e in texts(at.error)), texts(at.error)
    assert not entry.shared

    linked = open_at(model=new_id())  # the store cannot tell whether it was shared: it says so, not "never shared"
    assert any("Sharing is unavailable on this server right now" in w for w in texts(linked.warning))
    assert not any(UNAVAILABLE in w for w in texts(linked.warning))
    assert linked.selectbox(key="draw_model").value == "Pretrained"

    gallery = open_at("gallery")
    assert any("gallery is not available" in w for w in texts(gallery.warning)), texts(gallery.warning)
