"""Model files: round trip, atomic writes, and rejection of tampered files."""

import io
import json
import zipfile

import numpy as np
import pytest

from mlp.io import FORMAT_VERSION, ModelFileError, load_model, model_to_bytes, save_model
from mlp.network import MLP


@pytest.fixture
def model():
    m = MLP([784, 16, 8, 10], "tanh", dropout=0.25, seed=3)
    m.meta.update(dataset="mnist", test_accuracy=0.5, history=[{"epoch": 1, "train_loss": 2.0}])
    return m


def npz_bytes(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def arrays_of(model, **meta_changes):
    """The arrays save_model would write, with metadata fields changed."""
    with np.load(io.BytesIO(model_to_bytes(model)), allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(arrays["metadata"].tobytes())
    meta.update(meta_changes)
    for k in [k for k, v in meta_changes.items() if v is None]:
        del meta[k]
    arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return arrays


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


def test_file_not_zip():
    with pytest.raises(ModelFileError, match="not a zip archive"):
        load_model(b"hello, I am not a model")


def test_zip_that_is_not_npz():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(ModelFileError, match="no metadata record"):
        load_model(buf.getvalue())


def test_object_array_rejected(model):
    arrays = arrays_of(model)
    arrays["W0"] = np.array([{"evil": 1}] * 3, dtype=object)
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # np.savez pickles object arrays
    with pytest.raises(ModelFileError, match="W0 has dtype object"):
        load_model(buf.getvalue())


def test_pickled_metadata_rejected(model):
    arrays = arrays_of(model)
    arrays["metadata"] = np.array({"format": "digit-lab-mlp"}, dtype=object)
    with pytest.raises(ModelFileError, match="metadata has dtype object"):
        load_model(npz_bytes(arrays))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"W1": np.zeros((16, 9), np.float32)}, r"W1 has shape \(16, 9\), but the metadata implies \(16, 8\)"),
        ({"b0": np.zeros(16, np.float64)}, "b0 has dtype float64, expected float32"),
        ({"W9": np.zeros(3, np.float32)}, r"unexpected \['W9.npy'\]"),
        ({"W0": np.full((784, 16), np.nan, np.float32)}, "W0 contains NaN or infinite"),
    ],
)
def test_tampered_arrays_rejected(model, change, message):
    arrays = arrays_of(model)
    arrays.update(change)
    with pytest.raises(ModelFileError, match=message):
        load_model(npz_bytes(arrays))


def test_missing_array_rejected(model):
    arrays = arrays_of(model)
    del arrays["b2"]
    with pytest.raises(ModelFileError, match=r"missing \['b2'\]"):
        load_model(npz_bytes(arrays))


@pytest.mark.parametrize(
    "meta, message",
    [
        ({"format_version": 99}, "format_version 99 is not supported"),
        ({"layer_sizes": [784, -16, 8, 10]}, "layer_sizes must be a list"),
        ({"layer_sizes": [784, 16, 9, 10]}, r"W1 has shape \(16, 8\), but the metadata implies \(16, 9\)"),
        ({"layer_sizes": [784, 60000, 60000, 10]}, "parameters, over the"),
        ({"activation": "swish"}, "unknown activation 'swish'"),
        ({"dtype": "int8"}, "dtype 'int8' is not one of"),
        ({"format": "keras"}, "metadata format is 'keras'"),
        ({"activation": None}, "metadata lacks activation"),
    ],
)
def test_bad_metadata_rejected(model, meta, message):
    with pytest.raises(ModelFileError, match=message):
        load_model(npz_bytes(arrays_of(model, **meta)))


def test_metadata_not_json(model):
    arrays = arrays_of(model)
    arrays["metadata"] = np.frombuffer(b"{not json", dtype=np.uint8)
    with pytest.raises(ModelFileError, match="metadata is not valid JSON"):
        load_model(npz_bytes(arrays))


def test_huge_claimed_array_is_rejected_before_reading(model):
    # A .npy header that claims 2 GB but carries a few bytes: the shape check must fire first.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (784, 700_000)})
    arrays = arrays_of(model)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in arrays.items():
            if k != "W0":
                member = io.BytesIO()
                np.save(member, v)
                zf.writestr(f"{k}.npy", member.getvalue())
        zf.writestr("W0.npy", header.getvalue() + b"\0" * 64)
    with pytest.raises(ModelFileError, match=r"W0 has shape \(784, 700000\)"):
        load_model(buf.getvalue())


def test_truncated_array(model):
    data = model_to_bytes(model)
    with pytest.raises(ModelFileError):
        load_model(data[: len(data) // 2])


def test_size_limit(model):
    with pytest.raises(ModelFileError, match="bytes is over the 1,000-byte limit"):
        load_model(model_to_bytes(model), max_bytes=1000)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "nope.npz")
