"""A run in slices: its state out of a Trainer after an epoch, as bytes, into another Trainer or process.

The promise: a run cut into one-epoch slices, its state serialised and restored in between (here,
in another process once), ends with the very weights, records and outcome the uninterrupted run
has. And bytes that are not such a state are refused with a message that says why.
"""

import dataclasses
import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from mlp import (
    StateError,
    TrainConfig,
    Trainer,
    TrainOutcome,
    advance,
    build_model,
    state_from_bytes,
    state_to_bytes,
)
from mlp.augment import AugmentConfig

ROOT = Path(__file__).resolve().parents[2]
TIMING = ("seconds", "val_seconds", "samples_per_second")
N_OUT = 3


def image_data(n=240, seed=0, noise=60.0):
    """(n, 28, 28) uint8 images of three noisy templates (augmentation needs 28x28 pixels), labels (n,)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_OUT, n)
    templates = rng.uniform(0, 255, (N_OUT, 784)) * (rng.random((N_OUT, 784)) < 0.3)
    x = np.clip(templates[y] + rng.normal(0, noise, (n, 784)), 0, 255).astype(np.uint8)
    return x.reshape(n, 28, 28), y


def config_for(optimizer="adam", schedule="cosine", **kw):
    """Dropout, augmentation, weight decay and early stopping on; 23 batches an epoch, so that a
    run's optimizer steps cross the moments' flush every 64 steps (mlp.optimizers.FLUSH_EVERY)."""
    base = dict(hidden=(16,), epochs=4, batch_size=8, seed=3, val_fraction=0.25, optimizer=optimizer,
                schedule=schedule, lr=3e-3 if optimizer == "adam" else 0.05, step_size=1, gamma=0.5,
                dropout=0.25, weight_decay=1e-3, patience=2, augment=AugmentConfig())
    base.update(kw)
    return TrainConfig(**base)


def whole_run(config, x, y, model=None):
    model = build_model(config, n_out=N_OUT) if model is None else model
    trainer = Trainer(model, config, x, y)
    return model, trainer, list(trainer.run())


def sliced_run(config, x, y, model=None, middle=None):
    """The same run, one advance() per epoch from state bytes; `middle(blob) -> Slice` runs the second slice."""
    model = build_model(config, n_out=N_OUT) if model is None else model
    blob = state_to_bytes(Trainer(model, config, x, y).state())
    records, outcome, slices = [], None, 0
    while outcome is None:
        part = middle(blob) if middle is not None and slices == 1 else advance(blob, x, y, epochs=1)
        records += part.records
        blob, outcome, slices = part.state, part.outcome, slices + 1
    return state_from_bytes(blob).model(), outcome, records, slices


def untimed(records):
    return [{k: v for k, v in (r if isinstance(r, dict) else r.to_dict()).items() if k not in TIMING}
            for r in records]


def assert_same_run(model_a, records_a, model_b, records_b):
    assert all(np.array_equal(a, b) for a, b in zip(model_a.get_weights(), model_b.get_weights()))
    assert untimed(records_a) == untimed(records_b)
    assert untimed(model_a.meta["history"]) == untimed(model_b.meta["history"])


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("schedule", ["constant", "step", "cosine"])
def test_a_run_in_one_epoch_slices_through_bytes_is_the_uninterrupted_run(optimizer, schedule):
    x, y = image_data()
    config = config_for(optimizer, schedule)
    model, trainer, records = whole_run(config, x, y)
    sliced, outcome, sliced_records, slices = sliced_run(config, x, y)
    assert outcome is trainer.outcome
    assert slices == len(records)
    assert_same_run(model, records, sliced, sliced_records)


def test_a_slice_in_a_fresh_process_goes_on_bit_for_bit(tmp_path):
    x, y = image_data()
    config = config_for("nesterov", epochs=3)
    model, trainer, records = whole_run(config, x, y)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)

    def in_a_subprocess(blob):
        (tmp_path / "in.npz").write_bytes(blob)
        script = (
            "import json, sys, numpy as np\n"
            "from pathlib import Path\n"
            "from mlp import advance\n"
            "d = Path(sys.argv[1])\n"
            "part = advance((d / 'in.npz').read_bytes(), np.load(d / 'x.npy'), np.load(d / 'y.npy'), epochs=1)\n"
            "(d / 'out.npz').write_bytes(part.state)\n"
            "(d / 'out.json').write_text(json.dumps([r.to_dict() for r in part.records]))\n"
        )
        subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, check=True, timeout=120)
        from mlp.config import EpochRecord
        from mlp.resume import Slice
        done = [EpochRecord(**r) for r in json.loads((tmp_path / "out.json").read_text())]
        return Slice(done, (tmp_path / "out.npz").read_bytes(), None)

    sliced, outcome, sliced_records, slices = sliced_run(config, x, y, middle=in_a_subprocess)
    assert slices == 3 and outcome is trainer.outcome is TrainOutcome.COMPLETED
    assert_same_run(model, records, sliced, sliced_records)


def test_early_stopping_spent_in_one_slice_acts_in_the_next():
    """Patience runs out at an epoch's end; the uninterrupted run then puts the best weights back."""
    x, y = image_data(noise=400)  # noisy enough that a wider network overfits within a few epochs
    config = config_for("adam", "constant", hidden=(64,), lr=0.01, epochs=15, patience=2)
    model, trainer, records = whole_run(config, x, y)
    assert trainer.outcome is TrainOutcome.EARLY_STOPPED and len(records) < config.epochs
    assert records[-1].val_loss > min(r.val_loss for r in records)  # the best weights were put back
    sliced, outcome, sliced_records, _ = sliced_run(config, x, y)
    assert outcome is TrainOutcome.EARLY_STOPPED
    assert_same_run(model, records, sliced, sliced_records)
    # A state taken at the last yield, before the run acted on its spent patience, acts on resuming.
    trainer = Trainer(build_model(config, n_out=N_OUT), config, x, y)
    for _ in trainer.run():
        state = trainer.state()
    assert state.waited == config.patience and state.finished
    resumed = Trainer(build_model(config, n_out=N_OUT), config, x, y, state=state_from_bytes(state_to_bytes(state)))
    assert list(resumed.run()) == [] and resumed.outcome is TrainOutcome.EARLY_STOPPED
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), resumed.model.get_weights()))


def test_trainer_state_in_memory_and_slices_of_several_epochs():
    x, y = image_data()
    config = config_for("momentum", "step", epochs=5)
    model, _, records = whole_run(config, x, y)
    first = build_model(config, n_out=N_OUT)
    trainer = Trainer(first, config, x, y)
    got = list(trainer.run(epochs=2))
    assert trainer.outcome is None and trainer.state().epoch == 2 and not trainer.state().finished
    other = build_model(config, n_out=N_OUT)
    rest = Trainer(other, config, x, y, state=trainer.state())
    got += list(rest.run(epochs=10))
    assert rest.outcome is TrainOutcome.COMPLETED
    assert_same_run(model, records, other, got)
    assert list(rest.run()) == [] and rest.outcome is TrainOutcome.COMPLETED  # nothing left to train
    assert rest.state().finished


def test_a_continued_model_numbers_its_epochs_on_across_slices():
    x, y = image_data()
    config = config_for("sgd", epochs=2)
    base, _, _ = whole_run(config, x, y)
    # Each with fresh dropout masks, as the app's worker rebuilds a model to continue.
    model, _, records = whole_run(config, x, y, model=base.with_seed(config.seed))
    sliced, _, sliced_records, _ = sliced_run(config, x, y, model=base.with_seed(config.seed))
    assert [r.epoch for r in sliced_records] == [3, 4]
    assert_same_run(model, records, sliced, sliced_records)


def test_a_state_survives_bytes_unchanged():
    x, y = image_data()
    config = config_for("adam", epochs=3)
    trainer = Trainer(build_model(config, n_out=N_OUT), config, x, y)
    list(trainer.run(epochs=2))
    state = trainer.state()
    back = state_from_bytes(state_to_bytes(state))
    for field in ("config", "layer_sizes", "epoch", "step", "rngs", "loss_ceiling", "smoothed_loss", "spiked",
                  "best_loss", "waited", "meta", "data"):
        assert getattr(back, field) == getattr(state, field), field
    for name in ("weights", "best"):
        assert all(np.array_equal(a, b) for a, b in zip(getattr(back, name), getattr(state, name)))
    assert sorted(back.moments) == ["m", "v"]
    assert all(np.array_equal(back.moments[k], state.moments[k]) for k in back.moments)


def test_stopped_during_an_epoch_the_slice_keeps_the_last_finished_state():
    x, y = image_data()
    config = config_for("adam", epochs=3)
    blob = state_to_bytes(Trainer(build_model(config, n_out=N_OUT), config, x, y).state())
    first = advance(blob, x, y, epochs=1)
    stop = threading.Event()
    part = advance(first.state, x, y, epochs=2, stop=stop, progress=lambda done, total: done > 5 and stop.set())
    assert part.outcome is TrainOutcome.STOPPED and part.records == [] and part.state == first.state
    trainer = Trainer(build_model(config, n_out=N_OUT), config, x, y)
    stop = threading.Event()
    trainer.progress = lambda done, total: done > 5 and stop.set()
    assert list(trainer.run(stop)) == []
    with pytest.raises(RuntimeError, match="during an epoch"):
        trainer.state()
    with pytest.raises(RuntimeError, match="cannot go on"):
        list(trainer.run())


# -- states refused ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def state_bytes():
    x, y = image_data()
    config = config_for("adam", epochs=3)
    trainer = Trainer(build_model(config, n_out=N_OUT), config, x, y)
    list(trainer.run(epochs=2))
    return state_to_bytes(trainer.state())


def members(blob):
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return json.loads(arrays.pop("state").tobytes()), arrays


def rebuilt(record, arrays):
    """The .npz of a record (a dict, or JSON text as it is) and arrays."""
    text = record if isinstance(record, str) else json.dumps(record)
    buf = io.BytesIO()
    np.savez(buf, state=np.frombuffer(text.encode(), dtype=np.uint8), **arrays)
    return buf.getvalue()


def edited(blob, record_change=None, array_change=None):
    record, arrays = members(blob)
    if record_change:
        record_change(record)
    if array_change:
        array_change(arrays)
    return rebuilt(record, arrays)


def setitem(path, value):
    def change(d):
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value
    return change


def with_nan(name, at=0):
    def change(arrays):
        arrays[name] = arrays[name].copy()
        arrays[name][at] = np.nan
    return change


def test_rebuilding_the_bytes_unchanged_is_accepted(state_bytes):
    assert state_from_bytes(edited(state_bytes)).epoch == 2


@pytest.mark.parametrize("change, message", [
    (lambda b: b[: len(b) // 2], "not a zip archive|damaged|truncated"),
    (lambda b: b[:-40], "not a zip archive|damaged"),
    (lambda b: b"PK\x03\x04 not really a zip", "not a zip archive"),
    (lambda b: b"", "not a zip archive"),
])
def test_truncated_or_foreign_bytes_are_refused(state_bytes, change, message):
    with pytest.raises(StateError, match=message):
        state_from_bytes(change(state_bytes))


@pytest.mark.parametrize("record_change, array_change, message", [
    (None, lambda a: a.update(weights=a["weights"][:-1]), "array weights has shape"),
    (None, lambda a: a.update(moment_m=a["moment_m"].reshape(1, -1)), "array moment_m has shape"),
    (None, lambda a: a.update(weights=a["weights"].astype(np.float64)), "array weights has dtype"),
    (None, with_nan("weights"), "NaN or infinite values in its weights"),
    (None, with_nan("moment_v", -1), "NaN or infinite values in its optimizer moment 'v'"),
    (None, lambda a: a.update(moment_v=-a["moment_v"] - 1), "negative"),
    (None, lambda a: a.pop("moment_v"), "expected"),
    (None, lambda a: a.update(extra=np.zeros(3, np.float32)), "expected"),
    (setitem(["layer_sizes"], [784, 17, 3]), None, "do not match the hidden layers"),
    (lambda r: r.update(layer_sizes=[784, 65536, 65536, 10], config={**r["config"], "hidden": [65536, 65536]}),
     None, "over the 50,000,000 limit"),
    (setitem(["epoch"], 10**9), None, "epoch 1000000000 is outside"),
    (setitem(["step"], 10**30), None, "step"),
    (setitem(["step"], 47), None, "optimizer steps do not make 2 epochs"),
    (setitem(["waited"], 2**70), None, "waited"),
    (setitem(["waited"], 3), None, "early stopping waited 3"),
    (setitem(["data", "train_rows"], 10**12), None, "optimizer steps do not make"),
    (setitem(["rngs", "shuffle", "state", "state"], -1), None, "rngs.shuffle.state.state"),
    (setitem(["rngs", "augment", "state", "inc"], 2**200), None, "rngs.augment.state.inc"),
    (setitem(["rngs", "dropout", "bit_generator"], "MT19937"), None, "rngs.dropout.bit_generator"),
    (lambda r: r["rngs"].pop("dropout"), None, "random streams"),
    (setitem(["smoothed_loss"], 1e300), None, "smoothed loss"),
    (setitem(["loss_ceiling"], None), None, "loss ceiling"),
    (setitem(["best_loss"], None), None, "best loss"),
    (setitem(["config", "lr"], -1.0), None, "settings are invalid: lr"),
    (setitem(["config", "optimizer"], "rmsprop"), None, "settings are invalid: optimizer"),
    (setitem(["config", "surprise"], 1), None, "not this version's"),
    (setitem(["format_version"], 2), None, "format_version"),
    (setitem(["meta", "history"], [{"epoch": -1}]), None, "history"),
    (setitem(["meta", "history"], []), None, "history must list"),
])
def test_hostile_state_bytes_are_refused_with_a_clear_message(state_bytes, record_change, array_change, message):
    with pytest.raises(StateError, match=message):
        state_from_bytes(edited(state_bytes, record_change, array_change))


def test_a_state_over_the_readers_memory_limit_is_refused_before_its_arrays_are_read(state_bytes):
    n = state_from_bytes(state_bytes).weights[0].size + 16 + 16 * 3 + 3  # 784-16-3
    assert state_from_bytes(state_bytes, max_loaded_bytes=4 * n).epoch == 2
    with pytest.raises(StateError, match="784-16-3 network's weights would take 0.0 MB, over the limit"):
        state_from_bytes(state_bytes, max_loaded_bytes=4 * n - 1)
    x, y = image_data()
    with pytest.raises(StateError, match="over the limit"):
        advance(state_bytes, x, y, max_loaded_bytes=1000)


def test_nan_and_infinity_in_the_record_are_refused(state_bytes):
    record, arrays = members(state_bytes)
    for constant in ("NaN", "Infinity"):
        text = json.dumps(record).replace('"best_loss": ', f'"best_loss": {constant}, "x": ', 1)
        with pytest.raises(StateError, match=f"not valid JSON.*{constant}"):
            state_from_bytes(rebuilt(text, arrays))


def test_a_state_of_another_run_is_refused_by_the_trainer(state_bytes):
    x, y = image_data()
    state = state_from_bytes(state_bytes)
    config = state.config
    with pytest.raises(StateError, match=r"other settings \(lr\)"):
        Trainer(build_model(config, n_out=N_OUT), config_for("adam", epochs=3, lr=0.5), x, y, state=state)
    with pytest.raises(StateError, match="other data"):
        Trainer(build_model(config, n_out=N_OUT), config, x, (y + 1) % N_OUT, state=state)
    with pytest.raises(StateError, match="other data"):
        advance(state_bytes, x[:200], y[:200])
    with pytest.raises(StateError, match="network"):
        Trainer(build_model(config, n_out=N_OUT + 1), config, x, y, state=state)
    with pytest.raises(StateError, match=r"dropout 0.25, float32\), not this 784-16-3 relu one \(dropout 0.5"):
        Trainer(build_model(dataclasses.replace(config, dropout=0.5), n_out=N_OUT), config, x, y, state=state)
