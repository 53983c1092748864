"""webapp.views.gallery: the Gallery's cards and a class's leaderboard, from the store's rows (no Streamlit)."""

import numpy as np
import pytest

from webapp import images


def gallery_row(**fields):
    row = {"id": "abc", "name": "Ada", "architecture": "784-32-10 relu", "epochs": 3, "test_accuracy": 0.9731,
           "drawn_accuracy": None, "training": {"optimizer": "adam", "lr": 0.001, "batch_size": 128},
           "shared": "2026-03-04T05:06:07", "class_code": None, "thumbnail": images.weight_thumbnail(np.ones((784, 8)))}
    return {**row, **fields}


def test_cards_say_dash_for_what_is_missing_never_none():
    from webapp.views import gallery

    card, bare = gallery.cards([gallery_row(), gallery_row(
        id="def", name=None, architecture=None, epochs=None, test_accuracy=None, training=None, shared=None,
        thumbnail=None)])
    assert (card.rank, card.model_id, card.name, card.test_accuracy, card.drawn_accuracy, card.added) == (
        1, "abc", "Ada", "97.31%", "—", "2026-03-04")
    assert card.details == "784-32-10 relu · 3 epochs · adam, lr 0.001, batch 128" and card.picture is not None
    assert (bare.rank, bare.name, bare.test_accuracy, bare.details, bare.added, bare.picture) == (
        2, "—", "—", "— · — · —", "—", None)
    assert "None" not in repr(bare._replace(picture=""))  # every text a card shows


@pytest.mark.parametrize("picture", [
    "/etc/passwd", "http://evil.example/x.png", "data:image/svg+xml;base64,PHN2Zz4=", 42,
    "data:image/png;base64," + "A" * 20000,
])
def test_a_card_shows_only_a_small_png_data_url_as_its_picture(picture):
    from webapp.views import gallery

    assert gallery.cards([gallery_row(thumbnail=picture)])[0].picture is None


def test_card_details_from_a_model_file_are_cut_short():
    from webapp.views import gallery

    card = gallery.cards([gallery_row(training={"optimizer": "x" * 1000})])[0]
    assert len(card.details) == gallery.MAX_DETAILS and card.details.endswith("…")


def test_the_leaderboard_escapes_names_and_goes_to_two_columns_when_long():
    from webapp.views import gallery

    rows = [gallery_row(id=str(i), name=f"<b>#{i}</b>", test_accuracy=0.9 - i / 100) for i in range(9)]
    html = gallery.board_html(gallery.cards(rows), "7b")
    assert "<b>" not in html and "&lt;b&gt;#0&lt;/b&gt;" in html
    assert html.count("<li>") == 9 and 'class="dl-board two"' in html and "--half:5" in html
    short = gallery.board_html(gallery.cards(rows[:3]), "7b")
    assert 'class="dl-board"' in short and "<li><span class=\"rank\">1</span>" in short
    assert "Nothing published in class 7b yet" in gallery.board_html([], "7b")
    assert "&lt;" in gallery.board_html([], "<x>")


def test_the_leaderboard_signature_changes_with_what_it_shows():
    from webapp.views import gallery

    rows = [gallery_row(id="a"), gallery_row(id="b", test_accuracy=0.5)]
    same = [dict(r, thumbnail=None, shared="later") for r in rows]
    assert gallery.signature(rows) == gallery.signature(same)
    assert gallery.signature(rows) != gallery.signature(rows[::-1])
    assert gallery.signature(rows) != gallery.signature([*rows, gallery_row(id="c")])


def test_the_projector_switch_reads_1_or_0_from_a_link():
    from webapp.views import gallery

    assert gallery.flag("1") is True and gallery.flag("true") is True
    assert gallery.flag("0") is False
    for bad in ("yes please", "", "2"):
        with pytest.raises(ValueError):
            gallery.flag(bad)
