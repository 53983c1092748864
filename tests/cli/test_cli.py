"""`python -m mlp` end to end, as a user runs it (subprocesses)."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlp import MLP, TrainConfig, Trainer, load_model, save_model
from mlp.meta import continue_config

ROOT = Path(__file__).resolve().parents[2]


def run(*args, check=True):
    """Run `python -m mlp ARGS`; returns the CompletedProcess."""
    proc = subprocess.run(
        [sys.executable, "-m", "mlp", *map(str, args)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist):
    """A small model trained through the command line, and its --json output."""
    out = tmp_path_factory.mktemp("cli") / "small.npz"
    proc = run("train", "--hidden", 64, "--epochs", 2, "--subset", 6000, "--batch-size", 64,
               "--seed", 3, "--out", out, "--json")
    return out, json.loads(proc.stdout)


@pytest.mark.slow
def test_train_json(trained):
    out, result = trained
    assert out.exists()
    assert result["epochs"] == 2 and len(result["history"]) == 2
    for record in result["history"]:
        assert record["seconds"] > 0
        assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"} <= record.keys()
    assert result["test_accuracy"] > 0.85
    assert result["config"]["hidden"] == [64]


@pytest.mark.slow
def test_train_is_reproducible(trained, tmp_path):
    out, result = trained
    again = tmp_path / "again.npz"
    run("train", "--hidden", 64, "--epochs", 2, "--subset", 6000, "--batch-size", 64, "--seed", 3, "--out", again)
    with np.load(out) as a, np.load(again) as b:
        for key in ("W0", "b0", "W1", "b1"):
            assert np.array_equal(a[key], b[key])


@pytest.mark.slow
def test_continue_from(trained, tmp_path):
    out, _ = trained
    more = tmp_path / "more.npz"
    proc = run("train", "--continue-from", out, "--epochs", 1, "--subset", 6000, "--out", more, "--json")
    result = json.loads(proc.stdout)
    assert [r["epoch"] for r in result["history"]] == [1, 2, 3]
    assert proc.stderr.startswith("epoch 1/1 (3 in all)  loss "), proc.stderr  # this run's epochs, and all of them


@pytest.mark.slow
def test_continue_from_honours_the_seed(tmp_path, mnist):
    """A continued run's dropout masks follow --seed, as in a fresh model and in the app's worker."""
    base = save_model(MLP([784, 32, 10], dropout=0.5, seed=0), tmp_path / "base.npz")

    def continued(seed):
        out = tmp_path / f"seed{seed}-{len(list(tmp_path.iterdir()))}.npz"
        run("train", "--continue-from", base, "--epochs", 1, "--subset", 2000, "--seed", seed, "--out", out)
        return load_model(out).get_weights()

    first, again, other = continued(1), continued(1), continued(2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    # The app's worker rebuilds the model with seed=config.seed: the command line now trains the same.
    model = MLP([784, 32, 10], dropout=0.5, seed=1)
    model.set_weights(load_model(base).get_weights())
    config = continue_config(load_model(base), settings=TrainConfig(epochs=1, train_subset=2000, seed=1))
    list(Trainer(model, config, mnist.x_train, mnist.y_train).run())
    assert all(np.array_equal(a, b) for a, b in zip(first, model.get_weights()))


@pytest.mark.slow
def test_evaluate_json(trained):
    out, result = trained
    ev = json.loads(run("evaluate", "--model", out, "--json").stdout)
    assert ev["accuracy"] == pytest.approx(result["test_accuracy"])
    assert len(ev["per_class_accuracy"]) == 10
    cm = np.array(ev["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 10000
    assert np.trace(cm) / 1e4 == pytest.approx(ev["accuracy"])


@pytest.mark.slow
def test_evaluate_text(trained):
    text = run("evaluate", "--model", trained[0]).stdout
    assert "accuracy" in text and "confusion matrix" in text


def canvas_png(path, digit_image, offset, scale):
    """Paste an MNIST digit, scaled up, onto a black 280x280 canvas like the app's."""
    canvas = Image.new("L", (280, 280), 0)
    big = Image.fromarray(digit_image).resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR)
    canvas.paste(big, offset)
    canvas.save(path)
    return path


@pytest.mark.slow
def test_predict_json(trained, mnist, tmp_path):
    model, _ = trained
    seven = mnist.x_test[0]  # the first test image is a 7
    assert mnist.y_test[0] == 7
    small = canvas_png(tmp_path / "small.png", seven, (0, 0), 4)
    large = canvas_png(tmp_path / "large.png", seven, (0, 0), 10)
    empty = tmp_path / "empty.png"
    Image.new("RGB", (280, 280), "black").save(empty)
    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    proc = run("predict", "--model", model, "--json", small, junk, large, empty, check=False)
    assert proc.returncode == 1  # one file failed
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in records] == [str(p) for p in (small, junk, large, empty)]
    assert records[0]["digit"] == 7 and records[2]["digit"] == 7
    assert len(records[0]["probabilities"]) == 10 and sum(records[0]["probabilities"]) == pytest.approx(1, abs=1e-4)
    assert "error" in records[1] and "junk.png" in records[1]["error"]
    assert records[3]["digit"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--lr", "nan"], "expected a finite number, got 'nan'"),
        (["train", "--hidden", "256", "0"], "expected a positive integer, got 0"),
        (["train", "--dataset", "cifar"], "invalid choice: 'cifar'"),
        (["train", "--dropout", "1.5"], "dropout must be in [0, 1), got 1.5"),
        (["train", "--subset", "-1"], "train_subset must be a positive integer"),
        (["train", "--subset", "0"], "train_subset must be a positive integer"),
        (["evaluate", "--model", "/nonexistent/model.npz"], "no such file"),
        (["predict", "--model", "/nonexistent/model.npz", "x.png"], "no such file"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required: COMMAND"),
        (["train", "--styles", "-5"], "--styles must be 0 or more, got -5"),
        (["train", "--calibration", "0"], "--calibration must be 1 or more, got 0"),
        (["train", "--writers", "-1"], "--writers must be 0 or more, got -1"),
        (["train", "--dataset", "fashion-mnist", "--negatives", "10"], "need --dataset mnist"),
        (["train", "--negatives", "10", "--val-fraction", "0"], "--negatives needs --val-fraction > 0"),
    ],
)
def test_bad_arguments_give_one_line(args, message):
    proc = run(*args, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert message in proc.stderr


def test_missing_dataset_is_explained(tmp_path):
    env = {**os.environ, "MLP_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c",
         "import data.catalog as d, sys, pathlib; d.PROJECT_DATA_DIR = pathlib.Path(sys.argv[1]); "
         "d.SYSTEM_DATA_DIR = d.PROJECT_DATA_DIR; from cli import main; "
         "sys.exit(main(['train', '--dataset', 'mnist']))",
         str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "MLP_DATA_DIR" in proc.stderr


@pytest.mark.slow
def test_augmentation_flags_are_stored_in_the_model(tmp_path, mnist):
    out = tmp_path / "aug.npz"
    run("train", "--hidden", 16, "--epochs", 1, "--subset", 2000, "--aug-rotation", 5, "--aug-elastic", 0,
        "--out", out)
    augment = load_model(out).meta["training"]["augment"]
    assert augment["max_rotation"] == 5.0 and augment["elastic_alpha"] == 0.0
    assert augment["max_shift"] == 2.0  # the flags not given keep their defaults


@pytest.mark.slow
def test_drawn_digit_score_is_reported_and_stored(trained, tmp_path):
    model, _ = trained
    ev = json.loads(run("evaluate", "--model", model, "--drawn", 40, "--json").stdout)
    assert ev["drawn_digits"]["n"] == 40 and 0 <= ev["drawn_digits"]["accuracy"] <= 1
    out = tmp_path / "d.npz"
    result = json.loads(run("train", "--hidden", 16, "--epochs", 1, "--subset", 2000, "--drawn", 40,
                            "--out", out, "--json").stdout)
    stored = load_model(out).meta["drawn_digits"]
    assert stored["accuracy"] == result["drawn_accuracy"] and stored["seed"] == 0


@pytest.mark.slow
def test_handwriting_flags_train_calibrate_and_report(tmp_path, mnist):  # trains on MNIST
    out = tmp_path / "hw.npz"
    result = json.loads(run("train", "--hidden", 32, "--epochs", 1, "--subset", 3000, "--styles", 60, "--writers", 20,
                            "--negatives", 60, "--calibration", 200, "--pen", 50, "--letters", 60, "--out", out,
                            "--json").stdout)
    meta = load_model(out).meta
    assert meta["training"]["styles"] == 60 and meta["training"]["negatives"] == 60
    assert meta["training"]["writers"] == 20
    unsure = meta["unsure"]
    assert 0 < unsure["threshold"] < 1 and unsure["target_flag_rate"] == 0.015
    assert 0 <= unsure["measured"]["letters_flagged"] <= 1 and unsure["measured"]["n_letters"] > 0
    assert meta["pen_digits"]["n"] == 50 and "plain" in meta["pen_digits"]["per_style"]
    assert result["unsure"]["threshold"] == unsure["threshold"]
    text = run("evaluate", "--model", out, "--pen", 50, "--letters", 60).stdout
    assert "pen digits in people's styles" in text and "plain" in text


def test_predict_says_when_unsure(tmp_path):
    """A model that has learnt nothing (even logits) doubts every reading, and still names a digit."""
    model = MLP([784, 8, 10], seed=0)
    model.set_weights([np.zeros_like(a) for a in model.get_weights()])
    path = tmp_path / "flat.npz"
    save_model(model, path)
    png = tmp_path / "d.png"
    canvas = np.zeros((280, 280), np.uint8)
    canvas[100:180, 130:150] = 255
    Image.fromarray(canvas).save(png)
    record = json.loads(run("predict", "--model", path, "--json", png).stdout)
    assert record["unsure"] is True and record["digit"] == 0
    assert record["doubt"] == "That doesn't look like a digit"
    assert "That doesn't look like a digit" in run("predict", "--model", path, png).stdout


@pytest.mark.slow
def test_train_with_a_teacher_learns_from_it_records_it_and_refuses_one_that_cannot_teach(trained, tmp_path):
    teacher, _ = trained
    flags = ("train", "--hidden", 32, "--epochs", 1, "--subset", 2000, "--seed", 1, "--json")
    alone = json.loads(run(*flags, "--out", tmp_path / "alone.npz").stdout)
    out = tmp_path / "student.npz"
    taught = json.loads(run(*flags, "--teacher", teacher, "--teacher", teacher, "--teacher-weight", 0.4,
                            "--out", out).stdout)
    # The same run (seed, data, order) but for the targets: the teachers alone can make its weights differ.
    assert not np.array_equal(load_model(out).get_weights()[0], load_model(tmp_path / "alone.npz").get_weights()[0])
    assert taught["history"][0]["train_loss"] != alone["history"][0]["train_loss"]
    training = load_model(out).meta["training"]
    digest = hashlib.sha256(teacher.read_bytes()).hexdigest()[:12]
    assert training["teachers"] == f"sha256 {digest}, sha256 {digest}" and training["teacher_weight"] == 0.4
    five = save_model(MLP([784, 16, 5], seed=0), tmp_path / "five.npz")
    fashion = MLP([784, 16, 10], seed=0)
    fashion.meta["dataset"] = "fashion-mnist"
    fashion = save_model(fashion, tmp_path / "fashion.npz")
    for extra, message in [(("--teacher", teacher, five), f"teacher {five} reads 784 inputs into 5 classes"),
                           (("--teacher", fashion), f"teacher {fashion} was trained on fashion-mnist, not mnist"),
                           (("--teacher", teacher, "--teacher-weight", 0), "weight must be in (0, 1], got 0"),
                           (("--teacher-weight", 0.5), "--teacher-weight needs --teacher"),
                           (("--teacher", *[teacher] * 9), "at most 8 teachers, got 9")]:
        proc = run("train", "--hidden", 32, "--epochs", 1, "--subset", 2000, *extra, "--out", tmp_path / "no.npz",
                   check=False)
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr
        assert not (tmp_path / "no.npz").exists()
