"""webapp.views.display: the words the pages show (settings, readings, notes, pictures' descriptions)."""

import numpy as np

from webapp.views import display


def test_settings_rows_use_the_train_pages_labels():
    rows = dict(display.settings_rows({"lr": 0.01, "batch_size": 64, "hidden": [256, 128], "train_subset": None,
                                       "augment": {"max_rotation": 20.0, "max_shift": 2.0}}))
    assert rows["Learning rate"] == "0.01"
    assert rows["Batch size"] == "64"
    assert rows["Hidden layer sizes"] == "256, 128"
    assert rows["Training images"] == "—"
    assert rows["Augmentation: rotation (°)"] == "20.0"
    assert rows["Augmentation: shift (px)"] == "2.0"
    assert not {"lr", "batch_size", "hidden", "augment", "max_rotation"} & set(rows)


def test_settings_rows_keep_order_and_name_unknown_keys():
    rows = display.settings_rows({"hidden": [], "some_new_key": 3, "augment": None, "lr": 0.1})
    assert rows == [("Hidden layer sizes", "none"), ("Some new key", "3"), ("Learning rate", "0.1"),
                    ("Augmentation", "off")]


def test_pictures_are_described_for_screen_readers():
    assert display.test_image_alt(123, "4", "9") == "test image 123: a 4 read as 9"
    assert display.test_image_alt(7, "8") == "test image 7: an 8"
    assert display.article("Ankle boot") == "an" and display.article("T-shirt/top") == "a"
    assert display.compared_image_alt(5, "2", "3", "2") == \
        "test image 5: a 2, read as 3 by model A and as 2 by model B"
    assert display.weight_tiles_alt(64).startswith("First-layer weights: 64 hidden units as 28×28 tiles")
    assert display.weight_tiles_alt(32, epoch=3).startswith("First-layer weights after epoch 3: 32 hidden units")
    assert "1,024 hidden units" in display.unit_grid_alt(1, 312, 1024) and "312 of them" in \
        display.unit_grid_alt(1, 312, 1024)
    assert display.drawing_alt(False) == "An empty 28×28 input: nothing drawn yet"
    assert "the link's drawing" in display.drawing_alt(True, linked=True)


def test_shorten_cuts_with_an_ellipsis():
    assert display.shorten("abc", 5) == "abc"
    assert display.shorten("a" * 50, 10) == "a" * 9 + "…"
    assert display.shorten("two\nlines", 20) == "two lines"


def test_readings_in_words():
    from mlp.unsure import judge
    from webapp.views.display import reading

    digits = [str(i) for i in range(10)]
    sure = np.full(10, 0.01)
    sure[7] = 0.91
    assert reading(judge(sure, 0.5), digits) == ("7", "91.0%", None)
    two = np.full(10, 0.0125)
    two[4], two[9] = 0.5, 0.4
    assert reading(judge(two, 0.6), digits) == ("4 or 9?", "50.0%", "Not sure: 4 or 9?")
    flat = np.full(10, 0.1)
    flat[0] = 0.104
    said = reading(judge(flat / flat.sum(), 0.5), digits)
    assert said.prediction == "?" and said.note.startswith("That doesn't look like a digit (best guess 0")


def test_curves_note_only_when_training_made_batches_harder():
    from webapp.views.display import curves_note

    assert curves_note({}) is None
    assert curves_note({"training": {"dropout": 0.0, "augment": None}}) is None
    assert "dropout" in curves_note({"training": {"dropout": 0.2}})
    assert "augmentation" in curves_note({"training": {"augment": {"max_shift": 2.0}}})
    assert "no digit" in curves_note({"training": {"negatives": 24000}})
    assert "no digit" in curves_note({"training": {}, "unsure": {"threshold": 0.45}})
    assert "distillation" in curves_note({"training": {"teachers": "sha256 0123456789ab"}})
    assert curves_note({"training": {"teachers": ""}}) is None
    assert curves_note({"training": "garbage", "unsure": ["x"]}) is None


def test_settings_summary_names_what_shaped_a_run():
    from webapp.views.display import settings_summary

    assert settings_summary({"optimizer": "adam", "lr": 0.001, "batch_size": 128}) == "adam, lr 0.001, batch 128"
    distilled = {"optimizer": "adam", "lr": 0.001, "batch_size": 128, "dropout": 0.2,
                 "teachers": "sha256 0123456789ab, sha256 ba9876543210"}
    assert settings_summary(distilled) == "adam, lr 0.001, batch 128, dropout 0.2, distilled from 2 networks"
    assert settings_summary("garbage") == ""
