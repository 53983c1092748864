"""Bad input of every kind, one line per case: a clear message naming the problem, nothing changed.

Add a case by adding a line to the table of its kind.
"""

import gzip
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cli.images import predict_file
from data import DatasetError, load_dataset
from harness.hostile import deep_metadata_file, zeros_model_file
from mlp import MLP, ConfigError, ModelFileError, TrainConfig, load_model, model_to_bytes, save_model
from webapp import settings
from webapp.session.registry import read_upload
from webapp.store import Store, StoreError, create_engine

ROOT = Path(__file__).resolve().parent.parent


# -- model files -------------------------------------------------------------------------------


def model():
    m = MLP([784, 16, 8, 10], "relu", seed=3)
    m.meta.update(dataset="mnist")
    return m


def arrays(**meta_changes):
    """The arrays of a good model file, with metadata fields changed (None deletes a field)."""
    with np.load(io.BytesIO(model_to_bytes(model())), allow_pickle=False) as f:
        out = {k: f[k] for k in f.files}
    meta = json.loads(out["metadata"].tobytes())
    meta.update(meta_changes)
    meta = {k: v for k, v in meta.items() if v is not None}
    out["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return out


def npz(d):
    buf = io.BytesIO()
    np.savez(buf, **d)  # pickles object arrays, which is what a hostile file would do
    return buf.getvalue()


def changed(**replace):
    return npz({**arrays(), **replace})


def without(name):
    d = arrays()
    del d[name]
    return npz(d)


def zip_of(**members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def claims_2gb():
    """W0's .npy header claims a (784, 700000) float32 array: 2.2 GB that is not there."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (784, 700_000)})
    members = {}
    for k, v in arrays().items():
        buf = io.BytesIO()
        np.save(buf, v)
        members[f"{k}.npy"] = buf.getvalue()
    members["W0.npy"] = header.getvalue() + b"\0" * 64
    return zip_of(**members)


def good_file():
    return model_to_bytes(model())


def many_members(n=20_000):
    """A zip listing `n` empty members: 1.7 MB that zipfile would turn into n objects before any check."""
    return zip_of(**{f"m{i}": b"" for i in range(n)})


def damaged_deflate():
    """A compressed model file whose W0 data is garbled (zlib, not the zip structure, finds it)."""
    data = bytearray(model_to_bytes(model(), compress=True))
    at = data.find(b"W0.npy") + 200
    data[at:at + 400] = bytes(b ^ 0x55 for b in data[at:at + 400])
    return bytes(data)


def zip64():
    """The good file as a zip64 archive (zipfile then reads the counts from its zip64 record, not the end record)."""
    source = zipfile.ZipFile(io.BytesIO(good_file()))
    buf = io.BytesIO()
    with mock.patch.object(zipfile, "ZIP_FILECOUNT_LIMIT", 0), zipfile.ZipFile(buf, "w") as zf:
        for info in source.infolist():
            zf.writestr(info.filename, source.read(info))
    return buf.getvalue()


def central_entry_patched(offset, value):
    """The good file with bytes of its first central directory entry replaced."""
    data = bytearray(good_file())
    entry = data.find(b"PK\x01\x02")
    data[entry + offset : entry + offset + len(value)] = value
    return bytes(data)


def name_not_utf8():
    """A member flagged as having a UTF-8 name that is not UTF-8."""
    data = bytearray(central_entry_patched(46, b"\xff"))
    entry = data.find(b"PK\x01\x02")
    data[entry + 9] |= 0x08  # general purpose flag 0x800: the name is UTF-8
    return bytes(data)


def header_cut_mid_bracket():
    """metadata.npy whose header dict is never closed (NumPy's parser raises its tokenizer's own error)."""
    header = b"{'descr': '|u1', 'fortran_order': False, 'shape': (3,"
    header += b" " * (63 - len(header) % 64) + b"\n"
    return zip_of(**{"metadata.npy": b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"abc"})


def encrypted():
    """A model file whose metadata member says it is encrypted (zipfile then wants a password)."""
    data = bytearray(good_file())
    entry = data.find(b"PK\x01\x02")  # the first central directory entry
    data[entry + 8] |= 1  # general purpose flag: encrypted
    return bytes(data)


MODEL_FILES = [
    ("not a zip", lambda: b"hello, I am not a model", "not a zip archive"),
    ("empty file", lambda: b"", "not a zip archive"),
    ("zip but not npz", lambda: zip_of(**{"readme.txt": "hi"}), "no metadata record"),
    ("object array", lambda: changed(W0=np.array([{"evil": 1}] * 3, dtype=object)), "W0 has dtype object"),
    ("pickled metadata", lambda: changed(metadata=np.array({"x": 1}, dtype=object)), "metadata has dtype object"),
    ("missing array", lambda: without("b2"), r"missing \['b2'\]"),
    ("extra array", lambda: changed(W9=np.zeros(3, np.float32)), r"unexpected \['W9.npy'\]"),
    ("wrong shape", lambda: changed(W1=np.zeros((16, 9), np.float32)),
     r"W1 has shape \(16, 9\), but the metadata implies \(16, 8\)"),
    ("wrong dtype", lambda: changed(b0=np.zeros(16, np.float64)), "b0 has dtype float64, expected float32"),
    ("NaN weights", lambda: changed(W0=np.full((784, 16), np.nan, np.float32)), "W0 contains NaN or infinite"),
    ("inf weights", lambda: changed(b1=np.full(8, np.inf, np.float32)), "b1 contains NaN or infinite"),
    ("2 GB claimed", claims_2gb, r"W0 has shape \(784, 700000\)"),
    ("absurd layer sizes", lambda: npz(arrays(layer_sizes=[784, 60000, 60000, 10])), "parameters, over the"),
    ("negative layer size", lambda: npz(arrays(layer_sizes=[784, -16, 8, 10])), "layer_sizes must be a list"),
    ("metadata not JSON", lambda: changed(metadata=np.frombuffer(b"{oops", np.uint8)), "metadata is not valid JSON"),
    ("metadata not an object", lambda: changed(metadata=np.frombuffer(b"[1, 2]", np.uint8)),
     "metadata is not a JSON object"),
    ("wrong format version", lambda: npz(arrays(format_version=99)), "format_version 99 is not supported"),
    ("wrong format", lambda: npz(arrays(format="keras")), "metadata format is 'keras'"),
    ("unknown activation", lambda: npz(arrays(activation="swish")), "unknown activation 'swish'"),
    ("missing activation", lambda: npz(arrays(activation=None)), "metadata lacks activation"),
    ("truncated file", lambda: good_file()[: len(good_file()) // 2], "not a zip archive|truncated|cannot read"),
    ("half a million members", many_members, "the archive lists 20,000 members in 1,028,890 bytes; a model file "
                                             "has at most 1,025"),
    ("damaged deflate data", damaged_deflate, "cannot read the file: a member's compressed data is damaged"),
    ("encrypted member", encrypted, "cannot read the file: a member is encrypted"),
    ("zip64 archive", zip64, "a zip64 archive: a model file is far smaller"),
    ("unknown compression", lambda: central_entry_patched(10, struct.pack("<H", 99)),
     "a member is compressed in a way this program does not read"),
    ("member name not UTF-8", name_not_utf8, r"cannot read the file: it is damaged \(UnicodeDecodeError\)"),
    ("npy header cut mid-bracket", header_cut_mid_bracket, r"cannot read the file: it is damaged \(TokenError\)"),
]


@pytest.mark.parametrize("name, build, message", MODEL_FILES, ids=[c[0] for c in MODEL_FILES])
def test_bad_model_file(name, build, message, tmp_path):
    data = build()
    with pytest.raises(ModelFileError, match=message):
        load_model(data)
    # The same file on disk is refused, and an existing good model beside it is untouched.
    good = save_model(model(), tmp_path / "good.npz")
    before = good.read_bytes()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(data)
    with pytest.raises(ModelFileError, match=f"bad.npz: .*({message})"):
        load_model(bad)
    assert good.read_bytes() == before


@pytest.mark.parametrize("name, build, message", MODEL_FILES, ids=[c[0] for c in MODEL_FILES])
def test_bad_upload_is_named_by_its_file(name, build, message):
    with pytest.raises(ModelFileError, match=f"upload.npz was not loaded: .*({message})"):
        read_upload("upload.npz", build())


def test_metadata_nested_too_deep_is_refused_with_a_message():
    with pytest.raises(ModelFileError, match="deep.npz was not loaded: metadata nests 100,001 levels deep; "
                                             "at most 16 are read"):
        read_upload("deep.npz", deep_metadata_file(100_000))


def test_the_files_own_values_are_shortened_in_messages():
    """A file's text comes back in a message only in part: a few characters, a few items."""
    cases = [arrays(activation="x" * 100_000), arrays(format="y" * 100_000), arrays(dtype="z" * 100_000),
             arrays(layer_sizes=[784, *["big"] * 100_000, 10]), arrays(format_version="v" * 100_000)]
    for case in cases:
        with pytest.raises(ModelFileError) as caught:
            load_model(npz(case))
        assert len(str(caught.value)) < 200, str(caught.value)[:300]


@pytest.mark.parametrize("sizes, message", [
    ([100, 16, 10], "it is a 100-16-10 network: it takes 100 inputs, not the 784 pixels expected"),
    ([784, 16, 26], "it is a 784-16-26 network: it gives 26 outputs, not the 10 classes expected"),
    ([784, 5000, 10], "it has a hidden layer of 5000 units; at most 4096 are taken here"),
    ([784, *[2] * 7, 10], "it has 7 hidden layers; at most 6 are taken here"),
])
def test_an_upload_or_a_share_is_a_network_the_app_could_have_made(sizes, message):
    """784 inputs, 10 outputs, and no wider or deeper than Train builds; before any array is read."""
    data = zeros_model_file(sizes, "float32")
    with pytest.raises(ModelFileError, match=f"odd.npz was not loaded: {re.escape(message)}"):
        read_upload("odd.npz", data)
    with pytest.raises(StoreError, match=re.escape(message)):
        Store(create_engine("sqlite://")).put_model(data, name="odd", owner="o" * 32)
    assert load_model(data).layer_sizes == sizes  # the format itself takes them (the command line does)


def test_an_upload_is_limited_by_what_it_costs_once_loaded_not_by_its_size(monkeypatch):
    """A 0.4 MB zip of zeros declaring a 784-6500-6500-10 float64 network (47M parameters, 377 MB once loaded):
    refused from its metadata, before any array is read."""
    data = zeros_model_file([784, 6500, 6500, 10], "float64")
    assert len(data) < 1_000_000
    monkeypatch.setenv("DIGIT_LAB_MAX_MODEL_MB", "32")
    settings.current.cache_clear()
    try:
        with pytest.raises(ModelFileError, match=r"zeros.npz was not loaded: its 784-6500-6500-10 float64 weights "
                                                 r"would take 361.8 MB of memory, over this server's limit of "
                                                 r"32.0 MB per model"):
            read_upload("zeros.npz", data)
    finally:
        settings.current.cache_clear()


# -- dataset files -------------------------------------------------------------------------------

LABELS = "t10k-labels-idx1-ubyte.gz"


def regzip(path, transform):
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(transform(raw)))


def truncate_gzip(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def wrong_magic(path):
    regzip(path, lambda raw: b"\x00\x00\x08\x03" + raw[4:])


def count_mismatch(path):
    regzip(path, lambda raw: raw[:4] + (9999).to_bytes(4, "big") + raw[8:-1])


def flip_a_label(path):
    regzip(path, lambda raw: raw[:8] + bytes([(raw[8] + 1) % 10]) + raw[9:])


def not_gzip_nor_idx(path):
    path.write_bytes(b"<html>404 Not Found</html>")


def a_directory(path):
    path.unlink()
    path.mkdir()  # unreadable as a file (permissions do not stop root, so this stands in)


DATASET_FILES = [
    ("truncated gzip", truncate_gzip, "t10k-labels"),
    ("wrong magic number", wrong_magic, "t10k-labels.*(magic|dimension|expected|implausible header)"),
    ("image/label count mismatch", count_mismatch, "10000 images but 9999 labels|9999"),
    ("checksum mismatch", flip_a_label, "t10k-labels.*(SHA-256|checksum)"),
    ("html instead of data", not_gzip_nor_idx, "t10k-labels"),
    ("unreadable file", a_directory, "t10k-labels"),
]


@pytest.fixture
def dataset_copy(mnist_dir, tmp_path, monkeypatch):
    """A writable copy of MNIST under a fresh MLP_DATA_DIR; the big image files are links."""
    import data.catalog as catalog

    target = tmp_path / "mnist"
    target.mkdir()
    for f in mnist_dir.iterdir():
        if "labels" in f.name:
            shutil.copy(f, target / f.name)
        else:
            (target / f.name).symlink_to(f)
    monkeypatch.setenv("MLP_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(catalog, "PROJECT_DATA_DIR", tmp_path / "none")
    monkeypatch.setattr(catalog, "SYSTEM_DATA_DIR", tmp_path / "none")
    return target


@pytest.mark.parametrize("name, damage, message", DATASET_FILES, ids=[c[0] for c in DATASET_FILES])
def test_bad_dataset_file(name, damage, message, dataset_copy):
    load_dataset("mnist")  # the copy is good before it is damaged
    damage(dataset_copy / LABELS)
    with pytest.raises((DatasetError, OSError), match=message):
        load_dataset("mnist")


# -- images given to predict ---------------------------------------------------------------------


def digit_seven(mode="L", size=280):
    img = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(img)
    s = size / 280
    d.line([(80 * s, 60 * s), (200 * s, 60 * s), (120 * s, 230 * s)], fill=255, width=int(22 * s))
    return img


def write(tmp, name, fn):
    path = tmp / name
    fn(path)
    return path


def save_palette(path):
    digit_seven().convert("P").save(path)


def save_16bit(path):
    (np.asarray(digit_seven(), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(np.asarray(digit_seven(), dtype=np.uint16) * 257).save(path)


def save_transparent(path):
    Image.new("RGBA", (280, 280), (255, 255, 255, 0)).save(path)


def save_huge(path):
    Image.new("1", (20000, 20000), 0).save(path)  # a 400-megapixel bomb in a few kB


def save_truncated_png(path):
    buf = io.BytesIO()
    digit_seven().save(buf, "PNG")
    path.write_bytes(buf.getvalue()[:200])


def save_white(path):
    Image.new("RGB", (280, 280), "white").save(path)


def save_dark_on_light(path):
    Image.eval(digit_seven(), lambda v: 255 - v).convert("RGB").save(path, "JPEG", quality=90)


IMAGES = [
    ("text file", lambda p: p.write_text("hello"), ("error", "not a readable image")),
    ("empty file", lambda p: p.write_bytes(b""), ("error", "not a readable image")),
    ("truncated PNG", save_truncated_png, ("error", "not a readable image")),
    ("20000x20000", save_huge, ("error", "pixels|too large|exceeds")),
    ("fully transparent", save_transparent, ("empty", None)),
    ("all white", save_white, ("empty", None)),
    ("palette", save_palette, ("digit", 7)),
    ("16-bit grey", save_16bit, ("digit", 7)),
    ("dark on light JPEG", save_dark_on_light, ("digit", 7)),
]


@pytest.fixture(scope="module")
def shipped():
    return load_model(ROOT / "models" / "default.npz")


@pytest.mark.parametrize("name, make, expected", IMAGES, ids=[c[0] for c in IMAGES])
def test_images_given_to_predict(name, make, expected, tmp_path, shipped):
    path = write(tmp_path, "img.png", make)
    record = predict_file(shipped, path)
    kind, value = expected
    if kind == "error":
        assert "error" in record and str(path) in record["error"]
        assert pytest.importorskip("re").search(value, record["error"]), record["error"]
    elif kind == "empty":
        assert record["digit"] is None and "error" not in record
    else:
        assert record["digit"] == value, record


def test_huge_image_is_refused_without_using_gigabytes(tmp_path):
    path = write(tmp_path, "huge.png", save_huge)
    # VmHWM (peak resident memory) of the child alone: ru_maxrss would include the forked parent.
    code = (
        "import re, sys; from mlp.preprocess import load_image\n"
        "try:\n    load_image(sys.argv[1])\nexcept ValueError as e:\n    print('refused:', e)\n"
        "status = open('/proc/self/status').read()\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) // 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("refused:"), out.stdout + out.stderr
    assert int(lines[-1]) < 200, f"peak memory {lines[-1]} MB"


# -- hyperparameters -----------------------------------------------------------------------------

CONFIGS = [
    ({"hidden": (256, -3)}, r"hidden sizes must be positive integers, got \[256, -3\]"),
    ({"hidden": (0,)}, "hidden sizes must be positive integers"),
    ({"lr": float("nan")}, "lr must be a finite number > 0, got nan"),
    ({"lr": float("inf")}, "lr must be a finite number > 0, got inf"),
    ({"lr": -0.1}, "lr must be a finite number > 0"),
    ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"train_subset": 0}, "train_subset must be a positive integer"),
    ({"train_subset": -5}, "train_subset must be a positive integer"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
    ({"weight_decay": float("nan")}, "weight_decay must be a finite number >= 0"),
    ({"val_fraction": 1.0}, "val_fraction must be in"),
    ({"momentum": 1.5}, "momentum must be in"),
    ({"activation": "swish"}, "activation must be one of"),
    ({"optimizer": "rmsprop"}, "optimizer must be one of"),
]


@pytest.mark.parametrize("change, message", CONFIGS)
def test_nonsense_hyperparameters(change, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**change).validate()


def test_batch_larger_than_the_data():
    with pytest.raises(ConfigError, match="batch_size 512 is larger than the 90 training samples"):
        TrainConfig(batch_size=512, train_subset=100, val_fraction=0.1).validate(n_samples=60000)


CLI_ARGS = [
    (["train", "--lr", "nan"], "expected a finite number, got 'nan'"),
    (["train", "--lr", "inf"], "expected a finite number, got 'inf'"),
    (["train", "--hidden", "256", "0"], "expected a positive integer, got 0"),
    (["train", "--hidden", "-3"], "expected a positive integer, got -3"),
    (["train", "--batch-size", "0"], "expected a positive integer, got 0"),
    (["train", "--subset", "0"], "train_subset must be a positive integer"),
    (["train", "--subset", "100", "--batch-size", "4096"], "batch_size 4096 is larger than the 90 training samples"),
    (["train", "--dropout", "1.5"], "dropout must be in [0, 1), got 1.5"),
    (["train", "--epochs", "-2"], "expected a positive integer, got -2"),
    (["train", "--aug-shift", "50"], "max_shift must be in [0, 10] pixels, got 50.0"),
    (["train", "--aug-scale", "1.2", "0.9"], "min_scale must be in [0.2, 1], got 1.2"),
]


@pytest.mark.parametrize("args, message", CLI_ARGS)
def test_nonsense_command_lines(args, message, mnist):
    proc = subprocess.run([sys.executable, "-m", "mlp", *args, "--out", os.devnull], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert message in proc.stderr


# -- a run that diverges ------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "momentum"])
def test_learning_rate_10_is_detected_and_nothing_bad_is_saved(optimizer, mnist, tmp_path):
    out = tmp_path / "m.npz"
    proc = subprocess.run([sys.executable, "-m", "mlp", "train", "--optimizer", optimizer, "--lr", "10",
                           "--epochs", "2", "--subset", "5000", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1
    assert "training diverged" in proc.stderr and "smaller learning rate" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()  # it blew up in the first epoch: no good weights to keep
