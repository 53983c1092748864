"""mlp.calibration (reliability, ECE) and charts.reliability_diagram: hand-worked cases and properties."""

import json

import numpy as np
import pytest

from mlp.calibration import describe, reliability
from webapp.views import charts


def rows(*tops):
    """(n, 2) probabilities whose top probability (class 0) is each of tops (all >= 0.5)."""
    tops = np.asarray(tops, dtype=np.float64)
    return np.stack([tops, 1 - tops], axis=1)


def synthetic(n, seed, stated, actual_of):
    """n 10-class predictions that say `stated(conf)` and are right with probability actual_of(conf)."""
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.1, 1.0, n)  # the top probability, >= 1/10 so it is the top
    probs = np.empty((n, 10))
    probs[:, 0] = stated(conf)
    probs[:, 1:] = ((1 - probs[:, 0]) / 9)[:, None]
    right = rng.random(n) < actual_of(conf)
    labels = np.where(right, 0, rng.integers(1, 10, n))
    return probs, labels


# -- the maths ----------------------------------------------------------------------------------


def test_hand_worked_case():
    # 4 bins of 0.25 (top probabilities of two classes are >= 0.5: bins 3 and 4 only).
    # bin (0.5, 0.75]: 0.6 right, 0.7 wrong          -> conf 0.65, acc 0.5, gap 0.15
    # bin (0.75, 1]:   0.8 right, 0.9 right, 1.0 wrong -> conf 0.9,  acc 2/3, gap 0.9 - 2/3
    probs = rows(0.6, 0.7, 0.8, 0.9, 1.0)
    labels = np.array([0, 1, 0, 0, 1])
    r = reliability(probs, labels, n_bins=4)
    np.testing.assert_allclose(r.edges, [0, 0.25, 0.5, 0.75, 1])
    assert r.count.tolist() == [0, 0, 2, 3]
    assert np.isnan(r.confidence[:2]).all() and np.isnan(r.accuracy[:2]).all()
    np.testing.assert_allclose(r.confidence[2:], [0.65, 0.9])
    np.testing.assert_allclose(r.accuracy[2:], [0.5, 2 / 3])
    np.testing.assert_allclose(r.ece, (2 * 0.15 + 3 * (0.9 - 2 / 3)) / 5)
    np.testing.assert_allclose(r.mce, 0.9 - 2 / 3)
    np.testing.assert_allclose(r.mean_confidence, 0.8)
    np.testing.assert_allclose(r.overall_accuracy, 0.6)
    np.testing.assert_allclose(r.gap, 0.2)
    assert r.n == 5 and r.n_bins == 4


def test_a_confidence_on_an_edge_belongs_to_the_bin_below():
    r = reliability(rows(0.5, 0.75, 0.751, 1.0), [0, 0, 0, 0], n_bins=4)
    assert r.count.tolist() == [0, 1, 1, 2]


def test_one_bin_is_the_overall_gap():
    probs, labels = synthetic(500, 1, lambda c: c, lambda c: c * 0.8)
    r = reliability(probs, labels, n_bins=1)
    np.testing.assert_allclose(r.ece, abs(r.gap))
    np.testing.assert_allclose(r.mce, abs(r.gap))
    assert r.count.tolist() == [500]


def test_perfectly_calibrated_set_has_ece_near_zero():
    probs, labels = synthetic(200_000, 0, lambda c: c, lambda c: c)
    r = reliability(probs, labels)
    assert r.ece < 0.01, r.ece
    assert abs(r.gap) < 0.005
    assert describe(r).startswith("Well calibrated")


def test_over_confident_set_has_a_large_ece():
    # says 99% whatever it knows, and is right as often as conf says
    probs, labels = synthetic(20_000, 0, lambda c: np.full_like(c, 0.99), lambda c: c)
    r = reliability(probs, labels)
    assert r.count[-1] == 20_000
    assert r.ece > 0.3 and r.gap > 0.3
    np.testing.assert_allclose(r.ece, r.gap)  # every sample in one bin
    text = describe(r)
    assert text.startswith("Over-confident") and "99.0% sure" in text


def test_under_confident_set_is_said_so():
    probs, labels = synthetic(20_000, 0, lambda c: 0.1 + 0.5 * (c - 0.1), lambda c: c)
    r = reliability(probs, labels)
    assert r.gap < -0.1 and r.ece > 0.1
    assert describe(r).startswith("Under-confident")


def test_ece_is_the_weighted_mean_of_bin_gaps():
    probs, labels = synthetic(3_000, 4, lambda c: c ** 0.5, lambda c: c)
    r = reliability(probs, labels, n_bins=10)
    filled = r.count > 0
    gaps = np.abs(r.accuracy - r.confidence)[filled]
    np.testing.assert_allclose(r.ece, np.average(gaps, weights=r.count[filled]))
    assert r.count.sum() == 3_000
    assert r.ece <= r.mce
    d = r.to_dict()
    assert len(d["bins"]) == filled.sum() and sum(b["count"] for b in d["bins"]) == 3_000
    json.dumps(d)


def test_float32_softmax_rows_are_accepted():
    logits = np.random.default_rng(0).normal(size=(100, 10)).astype(np.float32) * 5
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    r = reliability(probs, np.arange(100) % 10)
    assert r.n == 100


@pytest.mark.parametrize("probs, labels, n_bins, message", [
    (np.ones(3) / 3, [0], 15, "non-empty (n, classes) array, got shape (3,)"),
    (np.empty((0, 10)), [], 15, "got shape (0, 10)"),
    ([[0.5, 0.5]], [0, 1], 15, "labels must have shape (1,)"),
    ([[1.2, -0.2]], [0], 15, "must lie in [0, 1], got values from -0.2 to 1.2"),
    ([[0.5, 0.4]], [0], 15, "row 0 sums to 0.9"),
    ([[np.nan, 1.0]], [0], 15, "finite"),
    ([["a", "b"]], [0], 15, "must be real numbers"),
    ([[0.5, 0.5]], [2], 15, "labels must lie in 0..1, got values from 2 to 2"),
    ([[0.5, 0.5]], [-1], 15, "labels must lie in 0..1"),
    ([[0.5, 0.5]], [0.0], 15, "labels must be integers"),
    ([[0.5, 0.5]], [0], 0, "n_bins must be a positive integer, got 0"),
    ([[0.5, 0.5]], [0], 2.5, "got 2.5"),
    ([[0.5, 0.5]], [0], True, "got True"),
])
def test_bad_input_is_named(probs, labels, n_bins, message):
    with pytest.raises(ValueError, match="^.*$") as info:
        reliability(probs, labels, n_bins=n_bins)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


# -- the chart ----------------------------------------------------------------------------------


def test_reliability_diagram_spec():
    r = reliability(rows(0.6, 0.7, 0.8, 0.9, 1.0), [0, 1, 0, 0, 1], n_bins=4)
    spec = charts.reliability_diagram(r)
    bars = spec["datasets"]["bins"]
    assert [(b["low"], b["high"], b["count"]) for b in bars] == [(0.5, 0.75, 2), (0.75, 1.0, 3)]  # no empty bins
    np.testing.assert_allclose([b["accuracy"] for b in bars], [0.5, 2 / 3])
    np.testing.assert_allclose([b["confidence"] for b in bars], [0.65, 0.9])
    assert spec["datasets"]["diagonal"] == [{"x": 0.0, "y": 0.0}, {"x": 1.0, "y": 1.0}]
    layers = spec["layer"]
    marks = [(layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]) for layer in layers]
    assert "bar" in marks and "line" in marks
    bar = layers[marks.index("bar")]
    assert bar["data"] == {"name": "bins"}
    enc = bar["encoding"]
    assert enc["x"]["field"] == "low" and enc["x2"]["field"] == "high" and enc["y"]["field"] == "accuracy"
    assert enc["y2"] == {"datum": 0}  # bars stand on 0 (without it Vega drew slivers at their tops)
    assert "opacity" in enc and enc["opacity"]["field"] == "count"
    assert {t["field"] for t in enc["tooltip"]} >= {"count", "accuracy", "confidence"}
    assert enc["y"]["scale"]["domain"] == [0, 1] and enc["x"]["scale"]["domain"] == [0, 1]
    json.dumps(spec)
    assert "background" not in json.dumps(spec.get("config", {}))  # the theme's colours, light or dark


def test_reliability_diagram_template_is_built_once_and_copied():
    a = charts.reliability_diagram(reliability(rows(0.6, 0.9), [0, 0], n_bins=5))
    charts._reliability_template.cache_clear()
    a = charts.reliability_diagram(reliability(rows(0.6, 0.9), [0, 0], n_bins=5))
    b = charts.reliability_diagram(reliability(rows(0.55), [1], n_bins=5))
    assert charts._reliability_template.cache_info().hits >= 1
    a["layer"][0]["mark"] = "tampered"
    assert b["layer"][0]["mark"] != "tampered"
    assert len(b["datasets"]["bins"]) == 1 and b["datasets"]["bins"][0]["accuracy"] == 0.0
