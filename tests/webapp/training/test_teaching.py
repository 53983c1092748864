"""The user's drawings collection (webapp.training.teaching): pure, no Streamlit, no MNIST."""

import numpy as np
import pytest

from webapp.training.teaching import Drawings, DrawingsError, kept_note, to_pixels


def digit_image(seed):
    """A (28, 28) float image in [0, 1] with some ink, different for every seed."""
    rng = np.random.default_rng(seed)
    x = np.zeros((28, 28), np.float32)
    x[4:24, 4:24] = rng.random((20, 20), dtype=np.float32)
    return x


def test_keep_stores_uint8_images_and_labels_in_order():
    d = Drawings()
    a, relabelled = d.keep(digit_image(0), 7)
    b, _ = d.keep(digit_image(1), 1)
    assert not relabelled and a.id != b.id and len(d) == 2
    images, labels = d.arrays()
    assert images.dtype == np.uint8 and images.shape == (2, 28, 28)
    assert labels.dtype == np.int64 and labels.tolist() == [7, 1]
    assert np.array_equal(images[0], np.rint(digit_image(0) * 255).astype(np.uint8))
    assert not a.image.flags.writeable  # a kept drawing cannot change behind the collection's back


def test_the_same_drawing_kept_again_is_relabelled_not_duplicated():
    d = Drawings()
    first, _ = d.keep(digit_image(0), 4)
    again, relabelled = d.keep(digit_image(0), 9)
    assert relabelled and again.id == first.id and len(d) == 1
    assert d.arrays()[1].tolist() == [9]
    assert d.find(digit_image(0)).label == 9 and d.find(digit_image(5)) is None


def test_delete_and_clear():
    d = Drawings()
    ids = [d.keep(digit_image(i), i)[0].id for i in range(3)]
    assert d.delete(ids[1]) and not d.delete(ids[1])
    assert [x.label for x in d] == [0, 2]
    new, _ = d.keep(digit_image(9), 5)
    assert new.id not in ids  # ids are never reused, so a stale delete button cannot hit a new drawing
    d.clear()
    assert len(d) == 0 and d.arrays()[0].shape == (0, 28, 28)


def test_the_cap_refuses_more_with_a_clear_message_and_a_delete_makes_room():
    d = Drawings(cap=3)
    for i in range(3):
        d.keep(digit_image(i), i)
    assert d.full
    with pytest.raises(DrawingsError, match="kept 3 drawings, the most one session holds"):
        d.keep(digit_image(3), 3)
    d.keep(digit_image(0), 8)  # relabelling one already kept still works when full
    d.delete(next(iter(d)).id)
    d.keep(digit_image(3), 3)
    assert len(d) == 3


def test_counts_missing_and_ready():
    d = Drawings()
    assert d.missing() == list(range(10)) and not d.ready()
    for digit in (7, 7):
        d.keep(digit_image(len(d)), digit)
    assert not d.ready()  # two drawings: one short of MIN_DRAWINGS
    d.keep(digit_image(2), 1)
    assert d.ready() and d.missing() == [0, 2, 3, 4, 5, 6, 8, 9]  # a few corrections, of any digits, are enough
    for digit in range(10):
        d.keep(digit_image(10 + digit), digit)
    d.keep(digit_image(20), 4)
    assert d.counts() == [1, 2, 1, 1, 2, 1, 1, 3, 1, 1]
    assert d.missing() == [] and d.missing(per_digit=2) == [0, 2, 3, 5, 6, 8, 9]


@pytest.mark.parametrize("label", [-1, 10, 3.0, "3", True, None])
def test_labels_outside_0_to_9_are_refused(label):
    with pytest.raises(DrawingsError, match="label must be a digit 0-9"):
        Drawings().keep(digit_image(0), label)


def test_numpy_integer_labels_are_accepted():
    d = Drawings()
    d.keep(digit_image(0), np.int64(6))
    assert d.counts()[6] == 1


@pytest.mark.parametrize(("image", "message"), [
    (np.zeros((28, 28)), "empty"),
    (np.ones((20, 20)), "28x28"),
    (np.full((28, 28), 2.0), r"\[0, 1\]"),
    (np.full((28, 28), np.nan), r"\[0, 1\]"),
    (np.ones((28, 28), dtype=np.int32), "dtype int32"),
])
def test_bad_images_are_refused_naming_the_problem(image, message):
    with pytest.raises(DrawingsError, match=message):
        Drawings().keep(image, 1)


def test_uint8_images_are_kept_as_they_are():
    x = np.zeros((28, 28), np.uint8)
    x[10, 10] = 200
    assert to_pixels(x)[10, 10] == 200 and to_pixels(x) is not x


@pytest.mark.parametrize("cap", [0, -1, 2.5, True])
def test_bad_cap(cap):
    with pytest.raises(DrawingsError, match="cap must be a positive integer"):
        Drawings(cap=cap)


def test_the_note_on_what_a_taught_model_kept_only_when_it_kept_less():
    check = {"n": 6000, "before": 0.9942, "after": 0.9935}
    assert kept_note({"blend": 0.7, "check": check}) == (
        "It keeps 70% of what teaching changed: all of it made the model misread more of the 6,000 digits it was "
        "validated on (now 99.35%, before 99.42%).")
    assert kept_note({"blend": 0.35, "check": check, "config": {"blend": 0.5}}).startswith("It keeps 35% of")
    for adapted in ({"blend": 1.0, "check": check}, {"blend": 0.7, "check": {"n": 0, "before": None, "after": None}},
                    {}, {"blend": 0.7}, {"blend": 0.5, "check": check, "config": {"blend": 0.5}}):
        assert kept_note(adapted) is None, adapted  # kept all it was set to keep, or nothing was checked
