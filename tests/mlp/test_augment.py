"""Training-time augmentation: shapes, exact identity, determinism, geometry, strokes, elastic."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mlp import to_inputs
from mlp.augment import (
    AugmentConfig,
    affine_matrices,
    augment_batch,
    change_thickness,
    elastic_field,
    warp,
)

OFF = AugmentConfig.none()


def drawn_digits(n=16, seed=0):
    """(n, 28, 28) uint8 stand-ins for MNIST: a few random thick strokes in the middle."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        img = Image.new("L", (28, 28))
        points = [tuple(p) for p in rng.uniform(7, 21, (4, 2))]
        ImageDraw.Draw(img).line(points, fill=255, width=2 + i % 2)
        out[i] = np.asarray(img)
    return out


def centre_of_mass(images):
    """(n, 28, 28) -> (n, 2) intensity-weighted (row, col)."""
    idx = np.arange(28, dtype=np.float64)
    mass = images.sum(axis=(1, 2))
    return np.stack([(images.sum(axis=2) @ idx) / mass, (images.sum(axis=1) @ idx) / mass], axis=1)


def blob(row=14, col=10, size=28):
    """A float32 (1, 28, 28) image with an asymmetric patch of ink."""
    img = np.zeros((1, size, size), dtype=np.float32)
    img[0, row - 3:row + 3, col - 2:col + 4] = 1.0
    img[0, row - 3, col - 2:col + 6] = 0.5
    return img


# -- shapes, dtype, range, identity -----------------------------------------------------------


@pytest.mark.parametrize("shape", [(16, 28, 28), (16, 784)])
@pytest.mark.parametrize("as_float", [False, True])
def test_shapes_dtype_and_range(shape, as_float):
    x = drawn_digits().reshape(shape)
    if as_float:
        x = x.astype(np.float64) / 255
    out = augment_batch(x, np.random.default_rng(0), AugmentConfig())
    assert out.shape == (16, 784) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_empty_batch():
    out = augment_batch(np.zeros((0, 28, 28), np.uint8), np.random.default_rng(0), AugmentConfig())
    assert out.shape == (0, 784) and out.dtype == np.float32


def test_rejects_wrong_shapes_and_dtypes():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="shaped"):
        augment_batch(np.zeros((4, 27, 28), np.uint8), rng, AugmentConfig())
    with pytest.raises(ValueError, match="uint8 or float"):
        augment_batch(np.zeros((4, 784), np.int64), rng, AugmentConfig())


def test_inactive_config_is_exactly_to_inputs():
    x = drawn_digits()
    assert not OFF.is_active
    out = augment_batch(x, np.random.default_rng(0), OFF)
    np.testing.assert_array_equal(out, to_inputs(x))
    floats = to_inputs(x)
    np.testing.assert_array_equal(augment_batch(floats, np.random.default_rng(0), OFF), floats)


def test_never_modifies_the_callers_images():
    x = to_inputs(drawn_digits())
    before = x.copy()
    augment_batch(x, np.random.default_rng(0), AugmentConfig(thickness_prob=1.0))
    np.testing.assert_array_equal(x, before)


def test_same_seed_same_batch_other_seed_other_batch():
    x = drawn_digits()
    a = augment_batch(x, np.random.default_rng(7), AugmentConfig())
    b = augment_batch(x, np.random.default_rng(7), AugmentConfig())
    c = augment_batch(x, np.random.default_rng(8), AugmentConfig())
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_no_nans_even_at_the_extremes():
    rng = np.random.default_rng(0)
    wild = AugmentConfig(max_shift=10, max_rotation=180, min_scale=0.2, max_scale=3, max_shear=2,
                         elastic_alpha=10, elastic_sigma=1, thickness_prob=1)
    assert not wild.problems()
    x = rng.random((64, 784)).astype(np.float32)
    out = augment_batch(x, rng, wild)
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


# -- geometry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shift", [(3.0, -2.0), (0.5, 1.25)])
def test_pure_shift_moves_the_centre_of_mass_by_the_shift(shift):
    img = blob()
    out = warp(img, affine_matrices([0], [1], [0]), np.array([shift], dtype=np.float32))
    np.testing.assert_allclose(out.sum(), img.sum(), rtol=1e-5)
    np.testing.assert_allclose(centre_of_mass(out) - centre_of_mass(img), [shift], atol=1e-4)


def test_random_shifts_stay_within_max_shift():
    x = drawn_digits(64)
    config = AugmentConfig(**{**OFF.to_dict(), "max_shift": 2.0})
    out = augment_batch(x, np.random.default_rng(1), config).reshape(-1, 28, 28)
    moved = centre_of_mass(out) - centre_of_mass(x.astype(np.float64))
    assert np.abs(moved).max() <= 2.0 + 1e-3
    assert np.abs(moved).max() > 0.5  # and they do move


def test_rotation_by_90_degrees_is_rot90():
    rng = np.random.default_rng(0)
    img = rng.random((3, 28, 28)).astype(np.float32)
    out = warp(img, affine_matrices([90] * 3, [1] * 3, [0] * 3), np.zeros((3, 2), np.float32))
    np.testing.assert_allclose(out, np.rot90(img, axes=(1, 2)), atol=1e-5)


def test_identity_warp_is_exact_and_scale_grows_the_digit():
    img = blob(14, 13)
    same = warp(img, affine_matrices([0], [1], [0]), np.zeros((1, 2), np.float32))
    np.testing.assert_allclose(same, img, atol=1e-6)
    bigger = warp(img, affine_matrices([0], [2], [0]), np.zeros((1, 2), np.float32))
    assert (bigger > 0.25).sum() > 3 * (img > 0.25).sum()


def test_content_from_outside_the_field_is_zero():
    img = np.ones((1, 28, 28), np.float32)
    out = warp(img, affine_matrices([0], [1], [0]), np.array([[5.0, 0.0]], np.float32))
    assert np.all(out[0, :5] == 0) and np.all(out[0, 5:] == 1)


# -- strokes and elastic ----------------------------------------------------------------------


def test_thickening_adds_ink_and_thinning_removes_it():
    x = to_inputs(drawn_digits()).reshape(-1, 28, 28)
    thick = change_thickness(x, np.ones(len(x)))
    thin = change_thickness(x, -np.ones(len(x)))
    assert np.all(thick.sum(axis=(1, 2)) > 1.2 * x.sum(axis=(1, 2)))
    assert np.all(thin.sum(axis=(1, 2)) < x.sum(axis=(1, 2)))
    # Thinning keeps the brightest level, as preprocessing would.
    np.testing.assert_allclose(thin.max(axis=(1, 2)), x.max(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_array_equal(change_thickness(x, np.zeros(len(x))), x)


def test_thickness_config_changes_only_some_images():
    x = drawn_digits(64)
    config = AugmentConfig(**{**OFF.to_dict(), "thickness_prob": 0.5})
    out = augment_batch(x, np.random.default_rng(0), config)
    changed = np.any(out != to_inputs(x), axis=1)
    assert 10 < changed.sum() < 54


def test_elastic_field_is_smooth_with_the_requested_size():
    field = elastic_field(500, np.random.default_rng(0), alpha=1.5, sigma=4.0)
    assert field.shape == (500, 2, 28, 28) and field.dtype == np.float32
    rms = np.sqrt((field**2).mean())
    assert 1.35 < rms < 1.65
    step = np.sqrt((np.diff(field, axis=3) ** 2).mean())
    assert step < 0.4 * rms  # neighbours move together: smooth, not noise


def test_elastic_changes_images_but_keeps_ink():
    x = drawn_digits(200)
    config = AugmentConfig(**{**OFF.to_dict(), "elastic_alpha": 1.5})
    out = augment_batch(x, np.random.default_rng(0), config)
    before = to_inputs(x)
    assert np.all(np.abs(out - before).max(axis=1) > 0.1)
    # A smooth field stretches some parts and squeezes others: ink is kept on
    # average, and most digits keep most of it.
    ratio = out.sum(axis=1) / before.sum(axis=1)
    assert 0.95 < ratio.mean() < 1.05
    low, high = np.percentile(ratio, [5, 95])
    assert 0.6 < low and high < 1.5


# -- config -----------------------------------------------------------------------------------


def test_config_validation_names_the_bad_value():
    with pytest.raises(ValueError, match=r"max_rotation must be in \[0, 180\] degrees, got -5"):
        AugmentConfig(max_rotation=-5).validate()
    assert set(AugmentConfig(min_scale=1.5, thickness_prob=float("nan")).problems()) == {
        "min_scale", "thickness_prob"}
    assert AugmentConfig().validate().is_active


def test_config_round_trips_through_a_dict():
    config = AugmentConfig(max_shift=1.5, elastic_alpha=0.0)
    assert AugmentConfig.from_dict({**config.to_dict(), "future_field": 1}) == config


def test_a_large_batch_runs_and_is_sane():
    """Correctness at epoch-like sizes; speed is measured by benchmarks/augment_speed.py."""
    x = np.tile(drawn_digits(16), (128, 1, 1))  # 2,048 images
    out = augment_batch(x, np.random.default_rng(0), AugmentConfig())
    assert out.shape == (2048, 784) and np.isfinite(out).all()
    assert np.all(out.max(axis=1) > 0.3)  # no digit pushed out of the field
