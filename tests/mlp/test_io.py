"""Model files: round trip and atomic writes (bad and hostile files: test_bad_input.py)."""

import numpy as np
import pytest

from mlp.io import FORMAT_VERSION, ModelFileError, load_model, model_to_bytes, save_model
from mlp.network import MLP


@pytest.fixture
def model():
    m = MLP([784, 16, 8, 10], "tanh", dropout=0.25, seed=3)
    m.meta.update(dataset="mnist", test_accuracy=0.5, history=[{"epoch": 1, "train_loss": 2.0}])
    return m


def test_round_trip(model, tmp_path):
    path = save_model(model, tmp_path / "sub" / "m.npz")
    loaded = load_model(path)
    assert loaded.layer_sizes == model.layer_sizes
    assert loaded.activation == "tanh" and loaded.dropout == 0.25
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert loaded.meta["dataset"] == "mnist"
    assert loaded.meta["history"] == [{"epoch": 1, "train_loss": 2.0}]
    assert loaded.meta["format_version"] == FORMAT_VERSION and "created" in loaded.meta
    x = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    assert np.array_equal(model.predict_proba(x), loaded.predict_proba(x))
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["m.npz"]  # no temp files left


def test_loads_from_bytes(model):
    assert load_model(model_to_bytes(model)).layer_sizes == model.layer_sizes


def test_failed_save_keeps_previous_file(model, tmp_path, monkeypatch):
    path = save_model(model, tmp_path / "m.npz")
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("mlp.io.os.replace", explode)
    with pytest.raises(OSError, match="disk full"):
        save_model(MLP([784, 4, 10]), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]




def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="nope.npz: no such file"):
        load_model(tmp_path / "nope.npz")


def test_npy_headers_are_parsed_one_thread_at_a_time(model, monkeypatch):
    """NumPy parses .npy headers with ast.literal_eval, which CPython 3.11 cannot run in two threads at once."""
    from mlp import io as io_module

    real, held = np.lib.format.read_array_header_1_0, []

    def parse(f):
        held.append(io_module._HEADER_LOCK.locked())
        return real(f)

    monkeypatch.setattr(np.lib.format, "read_array_header_1_0", parse)
    load_model(model_to_bytes(model))
    assert held and all(held)  # every array's header (metadata, W0, b0, ...) under the lock
