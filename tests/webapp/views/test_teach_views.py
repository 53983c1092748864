"""Draw's side of reading your handwriting, through AppTest: unsure readings, corrections, Your drawings, Teach."""

import numpy as np
import pytest

from harness import canvas_data_url, canvas_value, draw_stroke
from harness.apptest import metrics, open_app, wait_for
from mlp import MLP
from webapp.session.registry import ModelEntry, ModelKind
from webapp.training.teaching import Drawings


def draw(at, digit28):
    """Put an MNIST-style 28x28 digit on the canvas, as the component would send it, and run the page."""
    at.session_state["canvas"] = canvas_value(canvas_data_url(digit28))
    at.run()
    assert not at.exception, at.exception
    return at


def use_model(at, model, name="Mine"):
    at.session_state["models"][name] = ModelEntry(name, ModelKind.UPLOADED, model=model)
    at.run()
    at.selectbox(key="draw_model").set_value(name).run()
    assert not at.exception, at.exception
    return at


def biased(*favourites, dataset="mnist"):
    """A model that reads anything as one of `favourites`, evenly (weights 0, their output biases 5): with
    none, every class gets 10%."""
    model = MLP([784, 8, 10], seed=0)
    weights = [np.zeros_like(w) for w in model.get_weights()]
    weights[-1][list(favourites)] = 5.0
    model.set_weights(weights)
    model.meta["dataset"] = dataset
    return model


def badges(at):
    return [m.value for m in at.markdown if "badge" in m.value]


def open_drawings(at):
    """Open the Your drawings expander, as a click on it does (its callback remembers it)."""
    at.session_state["drawings_open"] = True
    at.session_state["_kept_drawings_open"] = True
    at.run()
    assert not at.exception, at.exception


def first_of_each_digit(mnist, per_digit=1):
    return [int(i) for d in range(10) for i in np.flatnonzero(mnist.y_test == d)[:per_digit]]


def test_an_unsure_reading_says_so_in_the_large_slot_too(mnist):
    at = draw(open_app("draw"), mnist.x_test[0])  # a clear 7: the shipped model is sure
    assert metrics(at)["Prediction"] == "7" and not badges(at)

    draw(use_model(at, biased(4, 9)), mnist.x_test[0])
    assert metrics(at)["Prediction"] == "4 or 9?"  # not a confident-looking 4
    assert any("Not sure: 4 or 9?" in b for b in badges(at)), badges(at)

    draw(use_model(at, biased(), "Even"), mnist.x_test[0])
    assert metrics(at)["Prediction"] == "?"
    assert any("That doesn't look like a digit" in b for b in badges(at)), badges(at)


def test_other_datasets_get_their_own_noun_and_no_corrections(mnist):
    at = draw(use_model(open_app("draw"), biased(dataset="fashion-mnist"), "Clothes"), mnist.x_test[0])
    assert any("That doesn't look like a clothing item" in b for b in badges(at)), badges(at)
    assert not at.pills  # corrections and teaching are for digits only


def test_correct_a_reading_see_it_in_your_drawings_and_delete_it(mnist):
    at = open_app("draw")
    assert not at.pills and not [e for e in at.expander if e.label.startswith("Your drawings")]  # nothing drawn
    draw(at, mnist.x_test[0])
    at.pills(key="correction").set_value(1).run()  # "Wrong? It's a 1"
    assert not at.exception, at.exception
    assert [t.value for t in at.toast] == ["Kept as a 1 in Your drawings (1)"]
    assert at.pills(key="correction").value is None  # ready for the next click
    assert at.pills(key="correction").label == "Wrong? It's a … (kept as a 1)"
    at.pills(key="correction").set_value(7).run()  # a second click corrects the first, no duplicate
    assert [t.value for t in at.toast] == ["Now kept as a 7 in Your drawings (1)"]
    draw(at, mnist.x_test[1])
    at.pills(key="correction").set_value(2).run()  # a right reading kept as an example

    kept = at.session_state["drawings"]
    assert [d.label for d in kept] == [7, 2]
    box = next(e for e in at.expander if e.label.startswith("Your drawings"))
    assert box.label == "Your drawings (2)" and not box.children or not box.get("image")  # lazy while closed
    open_drawings(at)
    box = next(e for e in at.expander if e.label.startswith("Your drawings"))
    thumbs = box.get("image")
    assert len(thumbs) == 2
    assert [m.value for m in box.markdown if m.value.startswith("**")] == ["**2**", "**7**"]  # newest first
    first = next(iter(kept))
    at.button(key=f"delete_drawing_{first.id}").click().run()
    assert [d.label for d in at.session_state["drawings"]] == [2]
    assert next(e for e in at.expander if e.label.startswith("Your drawings")).label == "Your drawings (1)"
    at.button(key="clear_drawings").click().run()
    assert len(at.session_state["drawings"]) == 0


def test_a_full_collection_refuses_more_with_a_message(mnist):
    at = open_app("draw")
    at.session_state["drawings"] = Drawings(cap=1)
    draw(at, mnist.x_test[0])
    at.pills(key="correction").set_value(7).run()
    draw(at, mnist.x_test[1])
    at.pills(key="correction").set_value(2).run()
    assert [t.value for t in at.toast] == ["you have kept 1 drawings, the most one session holds: delete some to "
                                           "keep new ones"]
    open_drawings(at)
    assert any("the most one session keeps" in w.value for w in at.warning)


def test_teach_needs_a_few_drawings_then_makes_selects_and_teaches_again_a_new_model(mnist):
    at = use_model(open_app("draw"), MLP([784, 32, 10], seed=1), "Tiny")
    kept = Drawings()
    at.session_state["drawings"] = kept
    firsts = first_of_each_digit(mnist, per_digit=2)
    for i in firsts[:2]:
        kept.keep(mnist.x_test[i], int(mnist.y_test[i]))
    at.run()
    assert at.button(key="teach").disabled
    assert any("Teaching needs at least three drawings: keep 1 more" in c.value for c in at.caption)
    for i in firsts[2:-1]:  # all but the last 9
        kept.keep(mnist.x_test[i], int(mnist.y_test[i]))
    draw(at, mnist.x_test[firsts[-1]])
    at.pills(key="correction").set_value(9).run()
    assert not at.button(key="teach").disabled

    at.button(key="teach").click().run()
    wait_for(at, lambda a: "MNIST test" in metrics(a), seconds=120)
    assert at.selectbox(key="draw_model").value == "Tiny + yours"
    shown = metrics(at)
    assert shown["MNIST test"].endswith("%") and shown["Your unseen drawings"].endswith("%")
    assert "Prediction" in shown  # the drawing is read again, by the taught model
    taught = at.session_state["models"]["Tiny + yours"]
    assert taught.kind is ModelKind.TAUGHT and taught.model.meta["adapted"]["n_drawings"] == 20
    assert taught.model.meta["adapted"]["holdout"]["n"] >= 1
    assert len(at.get("download_button")) == 1
    # It remembers the drawings: the one on the canvas, kept as a 9, reads as the 9 it was taught, and says so.
    assert taught.model.memory is not None and taught.model.memory.drawings == 20
    assert shown["Prediction"] == "9"
    assert any("Close to a 9 it was taught (pull 100%)" in b for b in badges(at)), badges(at)
    assert any("It also remembers your 20 drawings and 160 distorted copies" in c.value for c in at.caption)
    at.session_state["inside_tab"] = "Two models"  # beside another model, the taught one says it too
    at.session_state["compare_model"] = "Tiny"
    at.run()
    taught_side, other_side = at.columns[-2:]
    assert [m.label for m in taught_side.metric] == [r"Tiny \+ yours"]  # (a name is shown literally)
    assert [m.label for m in other_side.metric] == ["Tiny"]
    assert any("Close to a 9 it was taught" in m.value for m in taught_side.markdown)
    assert not any("it was taught" in m.value for m in other_side.markdown)
    at.session_state["inside_tab"] = "Why this digit"  # saliency explains the network alone, and says so
    at.run()
    assert at.selectbox(key="explain_digit").options[0].startswith("the network's reading (")
    assert any(c.value.startswith("This is the network alone.") for c in at.caption)

    at.button(key="teach").click().run()  # taught further: it starts from the taught model
    wait_for(at, lambda a: a.selectbox(key="draw_model").value == "Tiny + yours 2", seconds=120)
    again = at.session_state["models"]["Tiny + yours 2"].model
    assert not np.array_equal(again.get_weights()[0], taught.model.get_weights()[0])

    for page, key in (("inspect", "inspect_model"), ("train", None)):
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, at.exception
        if key:
            assert at.selectbox(key=key).value == "Tiny + yours 2"
            assert any(c.value.startswith("Remembers the 20 drawings it was taught (2 × 0, 2 × 1,") for c in at.caption)


# -- in a real browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(mnist, chromium):
    """The app on 127.0.0.1 for this module's browser tests (each its own browser page: its own session)."""
    from harness import start_app, stop_app

    proc, url = start_app()
    yield url
    stop_app(proc)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.xdist_group("test_teach_views_browser")  # one worker, so one server for both widths
@pytest.mark.parametrize("width", [1280, 390])
def test_in_a_browser_a_correction_lands_in_your_drawings_and_is_deleted(server, width, chromium, screenshots):
    """The pills, the toast and the lazy expander as a visitor meets them, on a desktop and a phone-wide screen."""
    from harness import PATIENCE, canvas_ready

    url, shots = server, screenshots
    page = chromium.new_page(viewport={"width": width, "height": 1400})
    try:
        page.set_default_timeout(PATIENCE * 1000)
        page.goto(url)
        canvas_ready(page)
        assert page.locator(".st-key-correction").count() == 0  # nothing drawn, nothing offered
        draw_stroke(page, [(140, 40), (140, 240)], steps=8)  # a "1"
        pills = page.locator(".st-key-correction")
        pills.get_by_role("radio", name="7", exact=True).click()  # "Wrong? It's a 7"
        page.get_by_text("Kept as a 7 in Your drawings (1)").wait_for()
        page.get_by_text("(kept as a 7)").wait_for()
        assert pills.get_by_role("radio", name="9", exact=True).is_visible()  # all ten fit, wrapped if need be
        page.locator(".st-key-drawings_open summary").click()
        thumbs = page.locator(".st-key-drawings_open img")
        thumbs.first.wait_for()
        assert thumbs.count() == 1
        page.screenshot(path=str(shots / f"draw-your-drawings-{width}.png"), full_page=True)
        page.locator(".st-key-delete_drawing_1 button:visible").click()  # the session's first drawing
        page.locator(".st-key-drawings_open").wait_for(state="detached")  # none left: the section folds away
        page.get_by_text("Wrong? It's a …", exact=True).wait_for()  # the drawing is still offered
    finally:
        page.close()
