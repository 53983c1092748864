"""Teaching a model someone's handwriting: mlp.adapt and `python -m mlp adapt`."""

import json
import threading

import numpy as np
import pytest
from PIL import Image

import cli
from mlp import MLP, TrainConfig, Trainer, adapt_input, load_model, save_model, to_inputs
from mlp import adapt as adapt_module
from mlp.adapt import (
    BACK_OFF,
    MAX_DRAWINGS,
    AdaptConfig,
    AdaptError,
    AdaptOutcome,
    adapt,
    check_drawings,
    holdout_split,
    replay_and_check,
)
from mlp.training import rows_used

FAST = AdaptConfig(steps=12, probe_steps=4, batch_size=16)


def drawings(n=20, seed=0):
    """n blocky, non-empty 28x28 uint8 'drawings' with labels cycling 0-9."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        r, c = rng.integers(4, 16, 2)
        images[i, r:r + 8, c:c + 4] = 255
    return images, np.arange(n) % 10


def small_replay(n=256, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


# -- the core -----------------------------------------------------------------------


BAD_CORE = [
    # (images, labels, message)
    (np.zeros((0, 28, 28), np.uint8), np.zeros(0, int), "no drawings to learn from"),
    (np.zeros((3, 28, 27), np.uint8), np.zeros(3, int), r"shaped \(n, 28, 28\), got shape \(3, 28, 27\)"),
    (np.zeros((28, 28), np.uint8), np.zeros(1, int), r"got shape \(28, 28\)"),
    (drawings(3)[0].astype(np.int32), np.zeros(3, int), "uint8 or floats in \\[0, 1\\], got dtype int32"),
    (drawings(3)[0] * 2.0, np.zeros(3, int), r"finite values in \[0, 1\], got \[0, 510\]"),
    (np.full((3, 28, 28), np.nan, np.float32), np.zeros(3, int), "finite values"),
    (drawings(3)[0], np.zeros(2, int), r"3 drawings but labels shaped \(2,\)"),
    (drawings(3)[0], np.array([1, 10, 2]), "label 10 of drawing 1 is outside 0-9"),
    (drawings(3)[0], np.array([1, -1, 2]), "label -1 of drawing 1 is outside 0-9"),
    (drawings(3)[0], np.array([1.0, 2.0, 3.0]), "labels must be integers 0-9, got dtype float64"),
    (np.zeros((3, 28, 28), np.uint8), np.zeros(3, int), r"all 3 drawings are empty \(no ink\)"),
    (np.ones((MAX_DRAWINGS + 1, 28, 28), np.uint8), np.zeros(MAX_DRAWINGS + 1, int),
     f"{MAX_DRAWINGS + 1} drawings is more than the limit of {MAX_DRAWINGS}"),
]


@pytest.mark.parametrize("images, labels, message", BAD_CORE)
def test_bad_drawings_are_refused_with_a_named_error(images, labels, message):
    model = MLP([784, 8, 10])
    before = model.get_weights()
    with pytest.raises(AdaptError, match=message):
        adapt(model, images, labels, replay=small_replay(), config=FAST)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("replay, message", [
    ((np.zeros((0, 28, 28), np.uint8), np.zeros(0, int)), "replay images must be uint8"),
    ((np.zeros((5, 28, 28), np.float32), np.zeros(5, int)), "replay images must be uint8"),
    ((np.zeros((5, 28, 28), np.uint8), np.zeros(4, int)), r"5 replay images but labels shaped \(4,\)"),
    (np.zeros((5, 28, 28), np.uint8), "replay must be a pair"),
])
def test_bad_replay_data_is_refused(replay, message):
    with pytest.raises(AdaptError, match=message):
        adapt(MLP([784, 8, 10]), *drawings(), replay=replay, config=FAST)


@pytest.mark.parametrize("config, message", [
    (AdaptConfig(steps=1), "steps must be an integer >= 2"),
    (AdaptConfig(probe_steps=0), "probe_steps must be an integer >= 1"),
    (AdaptConfig(probe_steps=True), "probe_steps must be an integer >= 1"),
    (AdaptConfig(user_share=1.0), "user_share must be in"),
    (AdaptConfig(lr=0.0), "lr must be a positive number"),
    (AdaptConfig(holdout_fraction=1.0), "holdout_fraction must be in"),
    (AdaptConfig(blend=0.0), r"blend must be in \(0, 1\]"),
    (AdaptConfig(blend=1.5), r"blend must be in \(0, 1\]"),
    (AdaptConfig(blend=True), r"blend must be in \(0, 1\]"),
    (AdaptConfig(forget_tolerance=-0.1), r"forget_tolerance must be in \[0, 1\]"),
    (AdaptConfig(forget_tolerance=True), r"forget_tolerance must be in \[0, 1\]"),
])
def test_bad_settings_are_refused(config, message):
    with pytest.raises(AdaptError, match=message):
        adapt(MLP([784, 8, 10]), *drawings(), replay=small_replay(), config=config)


def test_bad_check_digits_are_refused():
    with pytest.raises(AdaptError, match=r"check images must be uint8 shaped"):
        adapt(MLP([784, 8, 10]), *drawings(), replay=small_replay(), check=(np.zeros((5, 28, 28)), np.zeros(5, int)),
              config=FAST)


def test_a_model_for_other_inputs_is_refused():
    with pytest.raises(AdaptError, match=r"784 inputs to 10 digits, got layer sizes \[784, 8, 3\]"):
        adapt(MLP([784, 8, 3]), *drawings(), replay=small_replay(), config=FAST)


def test_empty_drawings_are_skipped_and_reported():
    images, labels = drawings(6)
    images[[1, 4]] = 0
    kept, kept_labels, skipped = check_drawings(images, labels)
    assert skipped == [1, 4] and len(kept) == 4 and kept_labels.tolist() == [0, 2, 3, 5]
    result = adapt(MLP([784, 8, 10]), images, labels, replay=small_replay(), config=FAST)
    assert result.skipped == [1, 4] and result.n_drawings == 4
    assert result.model.meta["adapted"]["skipped"] == [1, 4]


def test_float_drawings_as_preprocess_gives_them_are_accepted():
    images, labels = drawings(4)
    kept, _, _ = check_drawings(images / np.float32(255), labels)
    assert kept.dtype == np.uint8 and np.array_equal(kept, images)


def test_holdout_keeps_every_digit_in_training():
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3])
    train, held = holdout_split(labels, 0.25, rng)
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(len(labels)))
    assert np.bincount(labels[held], minlength=4).tolist() == [1, 0, 1, 2]  # max(1, round(n / 4)); never the last
    assert set(labels[train]) == {0, 1, 2, 3}
    _, none = holdout_split(labels, 0.0, rng)
    assert len(none) == 0


def test_happy_path_records_what_it_did_and_leaves_the_callers_model_alone():
    model = MLP([784, 16, 10], dropout=0.1, seed=3)
    model.meta.update(name="My model 1", test_accuracy=0.5, outcome="completed")
    weights, meta = model.get_weights(), dict(model.meta)
    images, labels = drawings(20)
    x_test, y_test = small_replay(100, seed=5)
    calls = []
    result = adapt(model, images, labels, replay=small_replay(), test=(x_test, y_test), config=FAST, seed=4,
                   progress=lambda done, total: calls.append((done, total)))
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert model.meta == meta
    assert result.outcome is AdaptOutcome.COMPLETED and result.model is not model
    assert not all(np.array_equal(a, b) for a, b in zip(weights, result.model.get_weights()))
    total = FAST.probe_steps + FAST.steps  # a digit drawn twice has one held out: there is a probe phase
    assert calls == [(k, total) for k in range(1, total + 1)] and result.steps == total
    assert result.n_drawings == 20 and result.per_digit == [2] * 10 and result.n_holdout == 10
    assert 0 <= result.holdout_before <= 1 and 0 <= result.holdout_after <= 1
    expected_after = float((result.model.predict(to_inputs(x_test)) == y_test).mean())
    assert result.mnist_after == expected_after
    assert result.mnist_before == float((model.predict(to_inputs(x_test)) == y_test).mean())
    meta = result.model.meta
    assert meta["name"] == "My model 1 + yours"
    assert meta["test_accuracy"] == expected_after and "outcome" not in meta
    adapted = meta["adapted"]
    assert adapted["n_drawings"] == 20 and adapted["per_digit"] == [2] * 10 and adapted["seed"] == 4
    assert adapted["holdout"] == {"n": 10, "before": result.holdout_before, "after": result.holdout_after}
    assert adapted["mnist_test_accuracy"] == {"before": result.mnist_before, "after": result.mnist_after}
    assert adapted["seconds"] > 0 and adapted["config"]["steps"] == FAST.steps
    again = adapt(result.model, images, labels, replay=small_replay(), config=FAST)
    assert again.model.meta["name"] == "My model 1 + yours"  # taught further, not "+ yours + yours"
    assert adapt(MLP([784, 8, 10]), images, labels, replay=small_replay(), config=FAST).model.meta["name"] \
        == "Pretrained + yours"


def test_the_probe_phase_never_shows_the_held_out_drawings_and_then_all_are_taught(monkeypatch):
    images, labels = drawings(20)
    images[np.arange(20), 0, 0] = np.arange(1, 21)  # each drawing marked by one pixel's value
    batches = []

    def record(raw, rng, config):
        batches.append(raw[:4, 0, 0].copy())  # round(0.25 * 16) = 4 rows of the user's drawings
        return adapt_module.to_inputs(raw)

    monkeypatch.setattr(adapt_module, "augment_batch", record)
    config = AdaptConfig(steps=60, probe_steps=30, batch_size=16, user_share=0.25)
    result = adapt(MLP([784, 8, 10]), images, labels, replay=small_replay(), config=config, seed=2)
    probe, rest = set(np.concatenate(batches[:30]).tolist()), set(np.concatenate(batches[30:]).tolist())
    assert len(batches) == 90 and result.n_holdout == 10
    assert len(probe) == 10 and rest == set(range(1, 21))  # 120 picks among 10, then 240 among 20
    batches.clear()
    none = adapt(MLP([784, 8, 10]), images, labels, replay=small_replay(),
                 config=AdaptConfig(steps=60, probe_steps=30, batch_size=16, user_share=0.25, holdout_fraction=0),
                 seed=2)
    assert len(batches) == 60 and none.steps == 60 and none.n_holdout == 0 and none.holdout_after is None


def test_same_seed_same_weights_other_seed_other_weights():
    model = MLP([784, 16, 10], dropout=0.2, seed=1)
    images, labels = drawings(20)

    def taught(seed):
        return adapt(model, images, labels, replay=small_replay(), config=FAST, seed=seed).model.get_weights()

    first, again, other = taught(7), taught(7), taught(8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_blend_keeps_that_share_of_what_teaching_changed():
    model = MLP([784, 16, 10], dropout=0.2, seed=1)
    images, labels = drawings(20)

    def taught(blend):
        config = AdaptConfig(steps=12, batch_size=16, blend=blend)
        return adapt(model, images, labels, replay=small_replay(), config=config, seed=3).model.get_weights()

    full, part = taught(1.0), taught(0.3)
    for base, f, p in zip(model.get_weights(), full, part):
        assert np.allclose(p, base + np.float32(0.3) * (f - base), atol=1e-6)
    assert not all(np.array_equal(f, p) for f, p in zip(full, part))


def test_teaching_keeps_less_of_what_it_changed_when_the_check_digits_say_it_forgot():
    model = MLP([784, 16, 10], seed=1)
    images, labels = drawings(20)
    x = to_inputs(images)
    check = (images, model.predict(x))  # the model reads all of them "right"; teaching must change that
    fast = dict(steps=12, probe_steps=4, batch_size=16, lr=1e-2)
    full = adapt(model, images, labels, replay=small_replay(), check=check,
                 config=AdaptConfig(**fast, forget_tolerance=1.0), seed=3)
    assert full.blend == 1.0 and full.check_before == 1.0 and full.check_after < 1.0 and full.n_check == 20
    guarded = adapt(model, images, labels, replay=small_replay(), check=check,
                    config=AdaptConfig(**fast, forget_tolerance=0.05), seed=3)

    def blended(share):
        twin = MLP([784, 16, 10])
        pairs = zip(model.get_weights(), full.model.get_weights())
        twin.set_weights([b + np.float32(share) * (f - b) for b, f in pairs])
        return twin

    passing = [s for s in BACK_OFF if (blended(s).predict(x) == check[1]).mean() >= 1.0 - 0.05]
    assert guarded.blend == (passing[0] if passing else BACK_OFF[-1]) and guarded.blend < 1.0
    assert all(np.allclose(g, b, atol=1e-6) for g, b in zip(guarded.model.get_weights(),
                                                             blended(guarded.blend).get_weights()))
    adapted = guarded.model.meta["adapted"]
    assert adapted["blend"] == guarded.blend
    assert adapted["check"] == {"n": 20, "before": 1.0, "after": guarded.check_after}
    halved = adapt(model, images, labels, replay=small_replay(), check=check,
                   config=AdaptConfig(**fast, forget_tolerance=0.05, blend=0.5), seed=3)
    assert halved.blend in {0.5 * s for s in BACK_OFF}  # the shares are of what it was set to keep
    assert adapt(model, images, labels, replay=small_replay(), config=FAST).model.meta["adapted"]["check"] == \
        {"n": 0, "before": None, "after": None}


def test_replay_and_check_split_the_training_set_as_the_model_was_trained():
    x, y = np.arange(1000 * 784, dtype=np.uint32).astype(np.uint8).reshape(1000, 28, 28), np.arange(1000) % 10
    model = MLP([784, 8, 10])
    model.meta["training"] = TrainConfig(val_fraction=0.1, seed=5).to_dict()
    (x_replay, y_replay), (x_check, y_check) = replay_and_check(model, x, y)
    train_idx, val_idx = rows_used(TrainConfig(val_fraction=0.1, seed=5), 1000)
    assert len(val_idx) == 100 and np.array_equal(y_check, y[val_idx]) and np.array_equal(x_replay, x[train_idx])
    big = np.zeros((14000, 28, 28), np.uint8), np.arange(14000) % 10
    model.meta["training"] = TrainConfig(val_fraction=0.5).to_dict()
    (x_replay, _), (x_check, _) = replay_and_check(model, *big)
    assert len(x_replay) == 7000 and len(x_check) == adapt_module.MAX_CHECK == 6000
    for training in (None, {}, {"val_fraction": 0.0}, {"val_fraction": "a lot"}, {"val_fraction": 0.1, "seed": -1},
                     [0.1], {"val_fraction": 0.9999}, {"val_fraction": 0.6}, {"val_fraction": float("nan")}):
        model.meta["training"] = training
        replay, check = replay_and_check(model, x, y)
        assert check is None and replay[0] is x, training


def test_the_held_out_figure_is_the_probes_reading_kept_as_the_taught_model_is(monkeypatch):
    model = MLP([784, 16, 10], seed=1)
    images, labels = drawings(20)
    check = (images, model.predict(to_inputs(images)))  # teaching must change how it reads these
    fast = dict(steps=12, probe_steps=4, batch_size=16, lr=1e-2)
    held_out_readers, real = [], adapt_module._accuracy

    def spy(reader, x, y):
        if len(x) == 10:  # the held-out drawings, one of each digit
            held_out_readers.append(reader.get_weights())
        return real(reader, x, y)

    monkeypatch.setattr(adapt_module, "_accuracy", spy)
    full = adapt(model, images, labels, replay=small_replay(), check=check,
                 config=AdaptConfig(**fast, forget_tolerance=1.0), seed=3)
    kept = adapt(model, images, labels, replay=small_replay(), check=check,
                 config=AdaptConfig(**fast, forget_tolerance=0.0), seed=3)
    assert full.blend == 1.0 and kept.blend < 1.0 and len(held_out_readers) == 4  # before and after, twice
    probe, kept_probe = held_out_readers[1], held_out_readers[3]
    assert not all(np.array_equal(p, t) for p, t in zip(probe, full.model.get_weights()))  # not the taught model
    for base, p, k in zip(model.get_weights(), probe, kept_probe):
        assert np.allclose(k, base + np.float32(kept.blend) * (p - base), atol=1e-6)


def test_each_phase_runs_its_own_cosine_and_a_stop_counts_steps_across_phases(monkeypatch):
    rates, real = [], adapt_module.cosine_lr
    monkeypatch.setattr(adapt_module, "cosine_lr", lambda lr, k, n: rates.append((k, n)) or real(lr, k, n))
    adapt(MLP([784, 8, 10]), *drawings(), replay=small_replay(), config=FAST)
    assert rates == [(k, FAST.probe_steps) for k in range(FAST.probe_steps)] + [(k, FAST.steps) for k in
                                                                                range(FAST.steps)]
    stop = threading.Event()

    def progress(done, total):
        if done == FAST.probe_steps + 2:
            stop.set()

    result = adapt(MLP([784, 8, 10]), *drawings(), replay=small_replay(), config=FAST, progress=progress, stop=stop)
    assert result.outcome == "stopped" and result.steps == FAST.probe_steps + 2


def test_stop_returns_no_model():
    stop = threading.Event()

    def progress(done, total):
        if done == 3:
            stop.set()

    result = adapt(MLP([784, 8, 10]), *drawings(), replay=small_replay(), config=FAST, progress=progress, stop=stop)
    assert result.outcome == "stopped" and result.model is None and result.steps == 3


# -- it really helps --------------------------------------------------------------


def mirrored(images):
    """An 'odd writer': every digit drawn mirror-image, consistently."""
    return np.ascontiguousarray(images[:, :, ::-1])


def test_teaching_an_odd_writer_lifts_their_other_drawings(mnist):
    config = TrainConfig(hidden=(64,), epochs=1, batch_size=64, train_subset=12000, val_fraction=0, seed=0)
    model = MLP([784, 64, 10], seed=0)
    for _ in Trainer(model, config, mnist.x_train, mnist.y_train).run():
        pass
    rng = np.random.default_rng(0)
    teach = np.concatenate([rng.choice(np.flatnonzero(mnist.y_test[:5000] == d), 8, replace=False)
                            for d in range(10)])
    others = 5000 + np.arange(2000)  # the writer's other drawings: never taught
    x_other, y_other = mirrored(mnist.x_test[others]), mnist.y_test[others]
    x_test, y_test = mnist.x_test[7000:], mnist.y_test[7000:]
    result = adapt(model, mirrored(mnist.x_test[teach]), mnist.y_test[teach], replay=(mnist.x_train, mnist.y_train),
                   test=(x_test, y_test), config=AdaptConfig(steps=150, lr=1e-3), seed=0)
    before = (model.predict(to_inputs(x_other)) == y_other).mean()
    after = (result.model.predict(to_inputs(x_other)) == y_other).mean()
    assert before < 0.6, before  # the small model misreads the odd writer ...
    assert after > before + 0.15, (before, after)  # ... and reads far more of them once taught (0.46 -> 0.73)
    assert result.holdout_after > result.holdout_before  # 20 held out: 0.40 -> 0.60
    assert result.mnist_after > result.mnist_before - 0.05  # replay keeps most of what it knew (-2.6 points)


# -- the command line ----------------------------------------------------------------


@pytest.fixture
def canvases(tmp_path):
    """Four drawn canvases a.png..d.png, an empty one, a file that is not an image, and a small model."""
    images, labels = drawings(4)
    names = ["a.png", "b.png", "c.png", "d.png"]
    for name, image in zip(names, images):
        Image.fromarray(image).resize((280, 280)).save(tmp_path / name)
    Image.new("L", (280, 280)).save(tmp_path / "empty.png")
    (tmp_path / "bad.png").write_text("not an image")
    save_model(MLP([784, 8, 10]), tmp_path / "small.npz")
    return tmp_path, dict(zip(names, labels.tolist()))


def labels_file(path, content):
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


BAD_CLI = [
    # (labels file content or None for no file, images, extra args, message)
    (None, ["a.png"], [], "labels.json: no such file"),
    ("{not json", ["a.png"], [], "labels.json: not valid JSON"),
    ([1, 2], ["a.png"], [], "expected a JSON object mapping file names to digits"),
    ({"a.png": 12}, ["a.png"], [], "the label of 'a.png' is 12, outside 0-9"),
    ({"a.png": -1}, ["a.png"], [], "the label of 'a.png' is -1, outside 0-9"),
    ({"a.png": "7"}, ["a.png"], [], "the label of 'a.png' must be an integer 0-9, got '7'"),
    ({"a.png": 7.0}, ["a.png"], [], "the label of 'a.png' must be an integer 0-9, got 7.0"),
    ({"a.png": True}, ["a.png"], [], "the label of 'a.png' must be an integer 0-9, got True"),
    ({"a.png": 1}, ["a.png", "b.png"], [], "1 image(s) missing from the labels file, e.g. 'b.png'"),
    ({"a.png": 1, "z.png": 2}, ["a.png"], [], "the labels file names 1 image(s) not given, e.g. 'z.png'"),
    ({"a.png": 1, "bad.png": 2}, ["a.png", "bad.png"], [], "bad.png: not a readable image"),
    ({"empty.png": 1}, ["empty.png"], [], "all 1 drawings are empty (no ink)"),
    ({"a.png": 1, "b.png": 2, "c.png": 3, "d.png": 4}, ["a.png", "b.png", "c.png", "d.png"], [],
     "4 drawings is more than the limit of 3"),
    ({"a.png": 1}, ["a.png", "a.png"], [], "file name 'a.png' is given twice"),
    ({"a.png": 1}, ["a.png"], ["--model", "missing.npz"], "missing.npz: no such file"),
]


@pytest.mark.parametrize("content, images, extra, message", BAD_CLI)
def test_adapt_command_refuses_bad_input_and_writes_nothing(canvases, capsys, monkeypatch, content, images, extra,
                                                             message):
    folder, _ = canvases
    monkeypatch.setattr(adapt_input, "MAX_DRAWINGS", 3)
    labels = folder / "labels.json"
    if content is not None:
        labels_file(labels, content)
    out = folder / "out.npz"
    extra = [str(folder / a) if a.endswith(".npz") else a for a in extra]
    status = cli.main(["adapt", "--labels", str(labels), "--out", str(out), *extra, *(str(folder / i) for i in images)])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err and err.count("\n") == 1 and err.startswith("python -m mlp adapt: error: "), err
    assert not out.exists()


def test_adapt_command_needs_the_dataset(canvases, capsys, monkeypatch, tmp_path):
    import data

    folder, labels = canvases
    monkeypatch.setattr(data.datasets, "find_dataset", lambda name: None)
    out = folder / "out.npz"
    status = cli.main(["adapt", "--model", str(folder / "small.npz"), "--labels",
                       str(labels_file(folder / "labels.json", labels)), "--out", str(out),
                       *(str(folder / n) for n in labels)])
    assert status == 2 and "dataset 'mnist' not found" in capsys.readouterr().err
    assert not out.exists()


def test_adapt_command_teaches_and_saves(canvases, capsys, monkeypatch, mnist):
    folder, labels = canvases
    monkeypatch.setattr(adapt_module, "AdaptConfig", lambda: FAST)  # the command's defaults, made quick
    trained = MLP([784, 8, 10])
    trained.meta["training"] = TrainConfig(val_fraction=0.1, seed=2).to_dict()  # 6,000 MNIST rows held out
    save_model(trained, folder / "small.npz")
    out = folder / "taught.npz"
    files = [str(folder / n) for n in [*labels, "empty.png"]]
    status = cli.main(["adapt", "--model", str(folder / "small.npz"), "--out", str(out), "--seed", "3", "--json",
                       "--labels", str(labels_file(folder / "labels.json", {**labels, "empty.png": 5})), *files])
    assert status == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["skipped"] == ["empty.png"] and printed["n_drawings"] == 4 and printed["seconds"] > 0
    assert {"before", "after", "n"} <= printed["holdout"].keys()
    assert 0 <= printed["mnist_test_accuracy"] <= 1 and 0 <= printed["mnist_test_accuracy_before"] <= 1
    assert printed["check"]["n"] == 6000 and 0 < printed["blend"] <= 1  # checked on the model's validation rows
    taught = load_model(out)
    assert printed["check"] == taught.meta["adapted"]["check"]
    assert taught.meta["name"] == "Pretrained + yours"
    assert taught.meta["adapted"]["seed"] == 3 and taught.meta["adapted"]["skipped"] == ["empty.png"]
    assert taught.meta["test_accuracy"] == printed["mnist_test_accuracy"]


def test_adapt_command_keeps_and_reports_a_memory(canvases, capsys, monkeypatch):
    folder, labels = canvases
    monkeypatch.setattr(adapt_module, "AdaptConfig", lambda: FAST)
    small = np.random.default_rng(0)
    monkeypatch.setattr("data.load_dataset", lambda name: type("Mnist", (), {  # a stand-in: noise for every split
        "x_train": small.integers(0, 256, (400, 28, 28), dtype=np.uint8), "y_train": small.integers(0, 10, 400),
        "x_test": small.integers(0, 256, (50, 28, 28), dtype=np.uint8), "y_test": small.integers(0, 10, 50)}))
    out = folder / "taught.npz"
    status = cli.main(["adapt", "--model", str(folder / "small.npz"), "--out", str(out), "--json", "--memory",
                       "--no-fine-tune", "--labels", str(labels_file(folder / "labels.json", labels)),
                       *(str(folder / n) for n in labels)])
    assert status == 0
    printed = json.loads(capsys.readouterr().out)
    taught = load_model(out)
    assert printed["memory"]["count"] == taught.memory.count == 4 * (1 + FAST.memory_copies)
    assert printed["memory"]["gate"] == taught.memory.gate and printed["memory"]["drawings"] == 4
    base = load_model(folder / "small.npz")
    assert all(np.array_equal(a, b) for a, b in zip(taught.get_weights(), base.get_weights()))


def test_teaching_uses_one_blas_thread_and_restores_the_count():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before, seen = blas_threads(), []
    adapt(MLP([784, 8, 10]), *drawings(), replay=small_replay(), config=FAST,
          progress=lambda done, total: seen.append(blas_threads()))
    assert seen and all(threads == [adapt_module.BLAS_THREADS] * len(before) for threads in seen)
    assert blas_threads() == before
