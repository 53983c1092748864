"""A memory of someone's drawings (mlp.memory): reading with it, its gate, its place in a model file."""

import io
import json
import zipfile

import numpy as np
import pytest

from mlp import MLP, ModelFileError, load_model, model_to_bytes, to_inputs
from mlp.adapt import AdaptConfig, AdaptError, adapt
from mlp.memory import MAX_EXEMPLARS, REACH, InvalidMemory, build_memory, hidden_features


def blocks(n, seed, size=(8, 4)):
    """n blocky 28x28 uint8 images, labels cycling 0-9."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        r, c = rng.integers(2, 18, 2)
        images[i, r:r + size[0], c:c + size[1]] = 255
    return images, np.arange(n) % 10


def noise(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


@pytest.fixture
def remembering():
    """A small random network with a memory of 20 blocky drawings, calibrated on noise images."""
    model = MLP([784, 32, 16, 10], seed=0)
    memory, _ = build_memory(model, *blocks(20, 0), check=noise(300, 1), rng=np.random.default_rng(0), copies=2)
    model.memory = memory
    return model


def test_a_drawing_in_memory_reads_as_its_digit(remembering):
    images, labels = blocks(20, 0)
    probs = remembering.predict_proba(to_inputs(images))
    assert (probs.argmax(axis=1) == labels).all()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_rows_beyond_the_reach_of_every_exemplar_keep_the_networks_reading(remembering):
    x = to_inputs(noise(200, 7)[0])
    memory = remembering.memory
    _, strongest = memory.pull(hidden_features(remembering, x))
    far = strongest == 0
    assert far.sum() > 100  # most noise images are far from every block
    plain = MLP([784, 32, 16, 10], seed=0).predict_proba(x)
    with_memory = remembering.predict_proba(x)
    assert np.array_equal(with_memory[far], plain[far])


def test_recall_over_a_trace_reads_as_predict_proba_and_names_the_digit_it_leans_on(remembering):
    """Draw reads from one trace (mlp.explain) for the reading and the views of the network's insides: recall
    over its last hidden layer gives predict_proba's numbers, and says how hard and toward which digit it pulled."""
    from mlp.explain import trace

    images, labels = blocks(20, 0)
    noisy = noise(50, 7)[0]
    x = to_inputs(np.concatenate([images, noisy]))
    traced = trace(remembering, x)
    recalled = remembering.memory.recall(traced.hidden[-1], traced.probs)
    assert np.allclose(recalled.probs, remembering.predict_proba(x), atol=1e-6)
    assert np.allclose(recalled.strength[:20], 1, atol=1e-5) and (recalled.digit[:20] == labels).all()  # each is kept
    far = recalled.strength == 0
    assert far[20:].sum() > 25 and np.array_equal(recalled.probs[far], traced.probs[far])


def test_the_gate_is_calibrated_to_the_tolerance():
    model = MLP([784, 32, 16, 10], seed=0)
    check_x, check_y = noise(2000, 1)
    plain = model.predict(to_inputs(check_x))
    for tolerance in (0.0, 0.01):
        memory, accuracy = build_memory(model, *blocks(20, 0), check=(check_x, check_y),
                                        rng=np.random.default_rng(0), copies=2, tolerance=tolerance)
        model.memory = memory
        mixed = model.predict(to_inputs(check_x))
        model.memory = None
        assert accuracy == (mixed == check_y).mean()
        assert (mixed == check_y).sum() >= (plain == check_y).sum() - np.floor(tolerance * 2000) or memory.gate == 0.2
        assert memory.claimed == ((plain == check_y) & (mixed != check_y)).sum() / 2000


def test_the_memory_round_trips_through_the_model_file(remembering):
    x = to_inputs(blocks(50, 3)[0])
    loaded = load_model(model_to_bytes(remembering))
    assert loaded.memory is not None and loaded.memory.count == remembering.memory.count == 60
    assert np.array_equal(loaded.memory.features, remembering.memory.features)
    assert np.array_equal(loaded.predict_proba(x), remembering.predict_proba(x))
    assert "memory" not in loaded.meta  # the Memory is the record; the metadata's summary is rewritten on save
    assert "memory=60 exemplars" in repr(loaded)


def test_training_drops_the_memory(remembering):
    remembering.loss_and_grads(to_inputs(blocks(4, 0)[0]), [0, 1, 2, 3])
    assert remembering.memory is None


def test_same_seed_same_memory():
    model = MLP([784, 32, 16, 10], seed=0)
    a, _ = build_memory(model, *blocks(20, 0), check=noise(300, 1), rng=np.random.default_rng(5))
    b, _ = build_memory(model, *blocks(20, 0), check=noise(300, 1), rng=np.random.default_rng(5))
    assert np.array_equal(a.features, b.features) and np.array_equal(a.radii, b.radii) and a.gate == b.gate


# -- hostile files ------------------------------------------------------------------------


def rewritten(data, change):
    """The model file `data` with its members passed through change(name, array) -> array (or None to drop)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    meta = json.loads(arrays["metadata"].tobytes())
    arrays = {k: v for k, v in ((k, change(k, v, meta)) for k, v in arrays.items() if k != "metadata") if v is not None}
    buf = io.BytesIO()
    np.savez(buf, metadata=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    return buf.getvalue()


def _set_meta(**fields):
    def change(name, a, meta):
        meta["memory"].update(fields)
        return a
    return change


def _array(target, make):
    def change(name, a, meta):
        return make(a) if name == target else a
    return change


def _nan(a):
    a = a.copy()
    a[0, 0] = np.nan
    return a


HOSTILE = [
    (_set_meta(count=MAX_EXEMPLARS + 1), f"memory count must be an integer in 1..{MAX_EXEMPLARS:,}"),
    (_set_meta(count=0), "memory count must be an integer"),
    (_set_meta(width=32), "memory width 32 does not match the last hidden layer of 784-32-16-10"),
    (_set_meta(count=59), r"array memory_features has shape \(60, 16\), but the metadata implies \(59, 16\)"),
    (_set_meta(gate="wide"), "memory gate is missing or malformed"),
    (_set_meta(drawings=0), "a memory of 60 exemplars stands for 1 to 60 drawings, this one says 0"),
    (_set_meta(drawings=61), "a memory of 60 exemplars stands for 1 to 60 drawings, this one says 61"),
    (_set_meta(digest="0" * 32), "the memory was built over other weights"),
    (_array("memory_features", _nan), "memory: memory contains NaN or infinite values"),
    (_array("memory_features", lambda a: a * 2), "memory features must be unit rows"),
    (_array("memory_features", lambda a: a[:, :8].copy()), r"array memory_features has shape \(60, 8\)"),
    (_array("memory_labels", lambda a: a + 10), "memory labels must be classes 0-9"),
    (_array("memory_labels", lambda a: a.astype(np.float32)), "array memory_labels has dtype float32, expected int64"),
    (_array("memory_radii", lambda a: -a), r"memory radii must be cosine distances in \(0, 2\]"),
    (_array("memory_radii", lambda a: None), r"and its memory: missing \['memory_radii'\]"),
]


@pytest.mark.parametrize("change, message", HOSTILE)
def test_a_hostile_memory_is_refused_with_a_clear_message(remembering, change, message):
    with pytest.raises(ModelFileError, match=message):
        load_model(rewritten(model_to_bytes(remembering), change))


def test_memory_arrays_without_a_memory_record_are_refused(remembering):
    def drop_record(name, a, meta):
        meta.pop("memory", None)
        return a
    with pytest.raises(ModelFileError, match="unexpected"):
        load_model(rewritten(model_to_bytes(remembering), drop_record))


def test_a_file_stays_within_the_zip_limits(remembering):
    with zipfile.ZipFile(io.BytesIO(model_to_bytes(remembering))) as zf:
        assert {"memory_features.npy", "memory_labels.npy", "memory_radii.npy"} <= set(zf.namelist())


# -- teaching with it ------------------------------------------------------------------------


def test_adapt_with_memory_only_leaves_the_weights_and_reports_the_memory():
    model = MLP([784, 32, 16, 10], seed=0)
    images, labels = blocks(20, 0)
    config = AdaptConfig(fine_tune=False, memory=True, memory_copies=2)
    result = adapt(model, images, labels, replay=noise(300, 1), check=noise(300, 2), config=config, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), result.model.get_weights()))
    assert result.steps == 0 and result.model.memory is not None and model.memory is None
    assert result.memory["count"] == 60 and result.memory["drawings"] == 20
    assert result.model.meta["adapted"]["memory"]["gate"] == result.memory["gate"]
    assert result.holdout_after is not None  # the held-out drawings read by a memory of the others
    again = adapt(model, images, labels, replay=noise(300, 1), check=noise(300, 2), config=config, seed=3)
    assert np.array_equal(again.model.memory.features, result.model.memory.features)


def test_a_network_without_hidden_layers_is_fine_tuned_without_a_memory():
    """A memory keeps a hidden layer's features: teaching a 784-10 network keeps none (its file loads back), and
    asked for the memory alone it says why it cannot."""
    model = MLP([784, 10], seed=0)
    images, labels = blocks(20, 0)
    result = adapt(model, images, labels, replay=noise(300, 1), config=AdaptConfig(steps=4, probe_steps=2), seed=3)
    assert result.model.memory is None and result.memory is None
    assert load_model(model_to_bytes(result.model)).memory is None
    with pytest.raises(AdaptError, match="a network without hidden layers cannot keep a memory"):
        adapt(model, images, labels, replay=noise(300, 1), config=AdaptConfig(fine_tune=False), seed=3)
    with pytest.raises(InvalidMemory, match="without hidden layers"):
        build_memory(model, images, labels, check=noise(30, 1), rng=np.random.default_rng(0))


def test_teaching_a_taught_model_again_reads_the_held_out_drawings_before_with_its_network_alone():
    """A memory from the first teaching holds the very drawings a second one holds out: read with it, they would
    count as read before teaching (100%), where the probe reads them unseen."""
    images, labels = blocks(20, 0)
    kw = dict(replay=noise(300, 1), check=noise(300, 2), seed=3)
    config = AdaptConfig(steps=6, probe_steps=3, batch_size=16, memory_copies=2)
    first = adapt(MLP([784, 32, 16, 10], seed=0), images, labels, config=config, **kw).model
    assert first.memory is not None and first.predict(to_inputs(images)).tolist() == labels.tolist()
    forgetful = first.with_seed(0)
    forgetful.memory = None
    again = adapt(first, images, labels, config=config, **kw)
    assert again.n_holdout > 0
    assert again.holdout_before == adapt(forgetful, images, labels, config=config, **kw).holdout_before < 1


def test_adapt_refuses_to_teach_nothing():
    with pytest.raises(AdaptError, match="fine_tune and memory are both off"):
        AdaptConfig(fine_tune=False, memory=False).validate()


def test_a_taught_memory_reads_an_odd_writers_held_out_drawings_better(mnist):
    """The shipped model, a writer who mirrors every digit: two drawings of each in memory lift the others."""
    model = load_model("models/default.npz")
    rng = np.random.default_rng(0)
    teach = np.concatenate([rng.choice(np.flatnonzero(mnist.y_test[:5000] == d), 2, replace=False) for d in range(10)])
    mirror = lambda images: np.ascontiguousarray(images[:, :, ::-1])  # noqa: E731
    others = 5000 + np.arange(1000)
    x_other, y_other = to_inputs(mirror(mnist.x_test[others])), mnist.y_test[others]
    check = (mnist.x_train[-3000:], mnist.y_train[-3000:])
    config = AdaptConfig(fine_tune=False, memory=True)
    result = adapt(model, mirror(mnist.x_test[teach]), mnist.y_test[teach],
                   replay=(mnist.x_train[:100], mnist.y_train[:100]), check=check, config=config, seed=0)
    before = (model.predict(x_other) == y_other).mean()
    after = (result.model.predict(x_other) == y_other).mean()
    assert after > before, (before, after)
    assert result.check_after >= result.check_before - 0.0005  # MNIST digits keep their reading
    x_test = to_inputs(mnist.x_test[5000:7000])
    changed = (result.model.predict(x_test) != model.predict(x_test)).mean()
    assert changed <= 0.002, changed
    assert REACH > 1
