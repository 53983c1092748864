"""mlp.explain (trace, saliency, deletion test, PCA map, top images, model comparison) and `mlp explain`."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cli import main
from mlp import MLP, load_model, save_model, to_inputs
from mlp.activations import ACTIVATIONS
from mlp.explain import compare, deletion_drop, fit_embedding, input_weights, saliency, top_exciting, trace
from mlp.losses import softmax

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / "default.npz"


def small_model(activation="relu", dtype="float32", sizes=(784, 32, 16, 10), dropout=0.0, seed=1):
    """A random network whose biases are non-zero, so every term of the backward pass matters."""
    model = MLP(list(sizes), activation, dropout=dropout, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed)
    for d in model.dense:
        d.params["b"][...] = rng.normal(0, 0.3, d.params["b"].shape)
    return model


def inputs(n, d=784, seed=0, dtype=np.float32):
    """Digit-like inputs: values in [0, 1] with about a fifth of the pixels inked."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, d)) * (rng.random((n, d)) < 0.2)).astype(dtype)


@pytest.fixture(scope="module")
def shipped():
    return load_model(SHIPPED)


# -- trace --------------------------------------------------------------------------------


def test_trace_shapes_and_numbers_match_predict_proba():
    model, x = small_model(), inputs(5)
    t = trace(model, x)
    assert [h.shape for h in t.hidden] == [(5, 32), (5, 16)]
    assert t.logits.shape == t.probs.shape == (5, 10)
    assert all(a.dtype == np.float32 for a in (*t.hidden, t.logits, t.probs))
    np.testing.assert_array_equal(t.probs, model.predict_proba(x))
    np.testing.assert_allclose(t.probs, softmax(t.logits))
    assert all((h >= 0).all() for h in t.hidden)  # relu outputs, after the activation


def test_trace_is_inference_and_leaves_the_training_buffers_alone():
    model, x = small_model(dropout=0.5), inputs(4)
    first = trace(model, x)
    saliency(model, x, 3)
    again = trace(model, x)  # dropout is off: the same numbers twice
    np.testing.assert_array_equal(first.probs, again.probs)
    np.testing.assert_array_equal(first.probs, model.predict_proba(x))
    for layer in model.layers:  # nothing kept for a backward pass, no scratch arrays made
        assert not {"_scratch", "_x", "_y"} & set(vars(layer)), layer


def test_trace_checks_the_input_shape():
    with pytest.raises(ValueError, match="784"):
        trace(small_model(), np.zeros((1, 28, 28)))


# -- saliency -------------------------------------------------------------------------------


def log_prob(model, x, target):
    """(n, len(target)) log-probabilities of the target classes, from the model's own forward pass."""
    logits = model.forward(x)
    z = logits - logits.max(axis=1, keepdims=True)
    return z[:, target] - np.log(np.exp(z).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("of", ["log_prob", "logit"])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_saliency_gradient_matches_finite_differences(activation, of):
    model = small_model(activation, "float64", sizes=(30, 12, 9, 5), seed=4)
    x = inputs(3, d=30, seed=5, dtype=np.float64) + 0.05  # every pixel inked, so every gradient shows
    target = np.array([0, 2, 4])
    sal = saliency(model, x, target, of=of)
    assert sal.shape == x.shape and sal.dtype == np.float64

    def score(x):  # (n,): row i's score for target[i]
        values = log_prob(model, x, target) if of == "log_prob" else model.forward(x)[:, target]
        return np.diagonal(values)

    eps = 1e-6
    numeric = np.empty_like(x)
    for j in range(x.shape[1]):
        step = np.zeros_like(x)
        step[:, j] = eps
        numeric[:, j] = (score(x + step) - score(x - step)) / (2 * eps)
    np.testing.assert_allclose(sal, numeric * x, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_a_hidden_units_input_weights_are_its_gradient(activation):
    model = small_model(activation, "float64", sizes=(30, 12, 9, 7, 5), seed=6)
    x = inputs(1, d=30, seed=7, dtype=np.float64) + 0.05
    np.testing.assert_array_equal(input_weights(model, 0, 3), model.dense[0].params["W"][:, 3])
    for layer, unit in ((1, 4), (2, 6)):

        def pre_activation(x, layer=layer, unit=unit):  # the unit's input before its activation
            h = x
            for d in model.dense[:layer]:
                h = ACTIVATIONS[activation](d.forward(h, training=False))
            return (h @ model.dense[layer].params["W"][:, unit])[0]

        eps = 1e-6
        numeric = np.array([(pre_activation(x + eps * e) - pre_activation(x - eps * e)) / (2 * eps)
                            for e in np.eye(30)[:, None, :]])
        np.testing.assert_allclose(input_weights(model, layer, unit, x), numeric, rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError, match="hidden layer"):
        input_weights(model, 3, 0, x)
    with pytest.raises(ValueError, match="unit must be"):
        input_weights(model, 1, 9, x)


def test_saliency_targets():
    model, x = small_model(), inputs(3)
    predicted = trace(model, x).probs.argmax(axis=1)
    np.testing.assert_array_equal(saliency(model, x), saliency(model, x, predicted))
    np.testing.assert_array_equal(saliency(model, x, 7), saliency(model, x, [7, 7, 7]))
    t = trace(model, x)
    np.testing.assert_array_equal(saliency(model, x, 2, traced=t), saliency(model, x, 2))
    assert saliency(model, x, 1).dtype == np.float32
    assert (saliency(model, np.zeros((1, 784)), 3) == 0).all()  # gradient x input: no ink, no evidence
    for bad, message in [(10, r"\[0, 10\)"), ([1, 2], "one target per input"), (1.5, "integer"),
                         (-1, r"\[0, 10\)")]:
        with pytest.raises(ValueError, match=message):
            saliency(model, x, bad)
    with pytest.raises(ValueError, match="of must be"):
        saliency(model, x, 1, of="prob")


def test_log_prob_saliency_survives_a_saturated_prediction():
    # p_target rounds to 1.0 in float32, yet the map is not all zero: 1 - p is summed from the others.
    model, x = small_model(), inputs(1)
    model.dense[-1].params["b"][3] = 25
    t = trace(model, x)
    assert t.probs[0, 3] == np.float32(1)
    assert np.abs(saliency(model, x, 3)).max() > 0


# -- deletion test ----------------------------------------------------------------------------


def test_deletion_blanks_a_tenth_of_the_ink():
    model, x = small_model(), inputs(6)
    x[5] = 0  # an empty image: nothing to blank, no drop
    result = deletion_drop(model, x, fraction=0.1, rng=np.random.default_rng(0))
    ink = (x > 0).sum(axis=1)
    np.testing.assert_array_equal(result.blanked[:5], np.rint(ink[:5] * 0.1))
    assert result.blanked[5] == 0 and result.salient[5] == result.random[5] == 0
    np.testing.assert_array_equal(result.targets, trace(model, x).probs.argmax(axis=1))
    again = deletion_drop(model, x, fraction=0.1, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(result.random, again.random)  # the rng decides, nothing global
    batched = deletion_drop(model, x, fraction=0.1, rng=np.random.default_rng(0), batch_size=4)
    np.testing.assert_allclose(batched.salient, result.salient, atol=1e-6)
    with pytest.raises(ValueError, match="fraction"):
        deletion_drop(model, x, fraction=0)


def test_blanking_the_most_salient_ink_hurts_at_least_twice_as_much_as_random(shipped, mnist):
    """The issue's faithfulness bar, on 200 MNIST test images and the shipped model."""
    x = to_inputs(mnist.x_test[:200])
    result = deletion_drop(shipped, x, fraction=0.1, rng=np.random.default_rng(0))
    assert result.salient.mean() >= 2 * result.random.mean(), (result.salient.mean(), result.random.mean())
    assert (result.salient > result.random).mean() > 0.9


# -- the map of the test set -------------------------------------------------------------------


def test_embedding_is_the_pca_of_the_last_hidden_layer():
    model, x = small_model(), inputs(300)
    emb = fit_embedding(model, x)
    h = trace(model, x).hidden[-1].astype(np.float64)
    centred = h - h.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    for i in range(2):  # the same directions as a plain SVD, up to sign
        assert abs(abs(float(vt[i] @ emb.components[:, i])) - 1) < 1e-4
    np.testing.assert_allclose(emb.explained_variance_ratio, s[:2] ** 2 / (s**2).sum(), rtol=1e-4)
    assert emb.components.shape == (16, 2) and emb.coords.shape == (300, 2) and emb.mean.shape == (16,)
    np.testing.assert_allclose(emb.components.T @ emb.components, np.eye(2), atol=1e-5)
    np.testing.assert_allclose(emb.project(trace(model, x[:7]).hidden[-1]), emb.coords[:7], atol=1e-4)
    # Deterministic sign: each axis's largest-|loading| unit loads positively.
    top = np.abs(emb.components).argmax(axis=0)
    assert (emb.components[top, [0, 1]] > 0).all()


def test_embedding_options():
    model, x = small_model(), inputs(50)
    first = fit_embedding(model, x, max_points=20)
    assert first.coords.shape == (20, 2)
    again = fit_embedding(model, x[:20], batch_size=7)
    np.testing.assert_allclose(again.coords, first.coords, atol=1e-4)
    with pytest.raises(ValueError, match="no hidden layer"):
        fit_embedding(MLP([784, 10]), x)


# -- top images and comparison -----------------------------------------------------------------


def test_top_exciting_is_largest_first_with_stable_ties():
    acts = np.array([[0.0, 1.0], [2.0, 5.0], [2.0, 0.0], [1.0, 5.0], [3.0, 5.0]])
    np.testing.assert_array_equal(top_exciting(acts, 0, k=3), [4, 1, 2])
    np.testing.assert_array_equal(top_exciting(acts, 1, k=8), [1, 3, 4, 0, 2])
    with pytest.raises(ValueError, match="unit"):
        top_exciting(acts, 2)


def test_compare_lists_what_b_fixed_and_broke():
    y = np.array([0, 1, 2, 1, 0])
    a = np.eye(3)[[0, 2, 2, 0, 1]] * 0.8 + 0.2 / 3  # right on 0 and 2
    b = np.array([[0.1, 0.9, 0.0],  # 0 -> 1: broke (0.9)
                  [0.2, 0.7, 0.1],  # right: fixed (0.7)
                  [0.0, 0.4, 0.6],  # right, as A
                  [0.0, 0.95, 0.05],  # right: fixed (0.95)
                  [0.5, 0.3, 0.2]])  # right: fixed (0.5)
    c = compare(a, b, y)
    np.testing.assert_array_equal(c.fixed, [3, 1, 4])
    np.testing.assert_array_equal(c.broke, [0])
    assert c.accuracy_a == pytest.approx(0.4) and c.accuracy_b == pytest.approx(0.8)
    expected = np.zeros((3, 3), dtype=int)
    expected[0, 1] += 1  # B: 0 -> 1; A had 0 -> 0 right
    expected[0, 0] -= 1
    expected[1, 1] += 2  # B: both 1s right; A had 1 -> 2 and 1 -> 0
    expected[1, 2] -= 1
    expected[1, 0] -= 1
    expected[0, 0] += 1  # B: the last 0 right; A had 0 -> 1
    expected[0, 1] -= 1
    np.testing.assert_array_equal(c.diff_confusion, expected)
    with pytest.raises(ValueError, match="labels"):
        compare(a, b, y[:3])


# -- the command line ---------------------------------------------------------------------------


def drawn_one(path):
    """A white stroke on a black 280x280 canvas, like a drawing of a 1."""
    canvas = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(canvas).line([(150, 40), (130, 240)], fill=255, width=22)
    canvas.save(path)
    return path


def test_explain_json(tmp_path, capsys):
    model_path = save_model(small_model(), tmp_path / "m.npz")
    image = drawn_one(tmp_path / "one.png")
    assert main(["explain", "--model", str(model_path), "--json", str(image)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    model = load_model(model_path)
    x = np.array(record["input"], dtype=np.float32)
    assert x.shape == (28, 28) and x.max() == 1.0
    probs = model.predict_proba(x.reshape(1, 784))[0]  # the input is exactly what the network saw
    assert record["digit"] == int(probs.argmax())
    np.testing.assert_allclose(record["probabilities"], probs, atol=1e-6)
    assert [len(a) for a in record["activations"]] == [32, 16]
    np.testing.assert_allclose(record["activations"][1], trace(model, x.reshape(1, 784)).hidden[1][0], rtol=1e-5)
    sal = np.array(record["saliency"])
    assert sal.shape == (28, 28)
    np.testing.assert_allclose(sal.ravel(), saliency(model, x.reshape(1, 784), record["digit"])[0],
                               rtol=1e-5, atol=1e-12)


def test_explain_empty_and_unreadable_files(tmp_path, capsys):
    empty = tmp_path / "empty.png"
    Image.new("L", (280, 280), 0).save(empty)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    image = drawn_one(tmp_path / "one.png")
    status = main(["explain", "--model", str(save_model(small_model(), tmp_path / "m.npz")), "--json",
                   str(empty), str(broken), str(image)])
    assert status == 1  # the others still ran
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[0] == {"file": str(empty), "digit": None, "probabilities": None, "input": None,
                          "activations": None, "saliency": None}
    assert set(records[1]) == {"file", "error"}
    assert isinstance(records[2]["digit"], int)


def test_explain_text_with_the_shipped_model(tmp_path, capsys):
    image = drawn_one(tmp_path / "one.png")
    assert main(["explain", str(image)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{image}: 1 (")
    assert "1024 units, strongest #" in out and "the strongest evidence for 1" in out
    assert len(out.strip().splitlines()) == 2


def test_the_benchmark_measures_both_maps_and_every_call():
    from benchmarks.saliency import deletion, per_call

    model, x = small_model(), inputs(40)
    d = deletion(model, x, "logit")
    assert d["images"] == 40 and d["saliency_of"] == "logit" and d["seconds"] > 0
    assert d["ratio"] == pytest.approx(d["mean_salient_drop"] / d["mean_random_drop"])
    ms = per_call(model, x[:5], fit_embedding(model, x))
    assert set(ms) == {"trace", "saliency", "project", "stroke"} and all(v > 0 for v in ms.values())
