"""The one writer of model metadata (mlp.meta) and the config a continued run gets. No MNIST needed."""

import re
from types import SimpleNamespace

import numpy as np

import mlp.meta
from mlp import MLP, TrainConfig, load_model, save_model
from mlp.meta import continue_config, score_on_test_set, stamp_outcome, stamp_test_scores, stamp_training
from mlp.preprocess import PREPROCESS_VERSION

DATASET = SimpleNamespace(name="mnist", class_names=[str(d) for d in range(10)])


def test_every_key_written_is_documented_once():
    doc = mlp.meta.__doc__
    model = MLP([784, 8, 10], seed=0)
    stamp_training(model, TrainConfig(hidden=(8,)), DATASET, name="My model 1")
    stamp_outcome(model, "completed")
    x, y = np.zeros((20, 784), np.uint8), np.arange(20) % 10
    stamp_test_scores(model, model.evaluate(x / 255.0, y), drawn={"accuracy": 0.5})
    model.meta["history"] = []
    for key in model.meta:
        assert len(re.findall(rf"^ +{key}\b", doc, re.M)) + len(re.findall(rf", {key}\b", doc)) == 1, key


def test_stamps_and_a_saved_model_carry_them(tmp_path):
    model = MLP([784, 8, 10], seed=0)
    config = TrainConfig(hidden=(8,), epochs=3)
    stamp_training(model, config, DATASET, name="My model 1")
    assert model.meta == {"dataset": "mnist", "class_names": DATASET.class_names,
                          "preprocess_version": PREPROCESS_VERSION, "training": config.to_dict(), "name": "My model 1"}
    x, y = np.zeros((20, 28, 28), np.uint8), np.arange(20) % 10
    ev = score_on_test_set(model, x, y)
    assert model.meta["test_accuracy"] == ev.accuracy and len(model.meta["per_class_accuracy"]) == 10
    stamp_outcome(model, "early_stopped")
    loaded = load_model(save_model(model, tmp_path / "m.npz"))
    assert loaded.meta["outcome"] == "early_stopped" and loaded.meta["training"]["epochs"] == 3
    assert "created" in loaded.meta


def test_new_training_drops_what_described_the_old_weights(tmp_path):
    model = load_model(save_model(MLP([784, 8, 10], seed=0), tmp_path / "m.npz"))
    model.meta.update(test_accuracy=0.9, test_loss=0.3, per_class_accuracy=[0.9] * 10, drawn_digits={}, outcome="x",
                      history=[{"epoch": 1}])
    stamp_training(model, TrainConfig(hidden=(8,)), DATASET)
    assert not model.meta.keys() & {"test_accuracy", "test_loss", "per_class_accuracy", "drawn_digits", "outcome",
                                    "created", "name"}
    assert model.meta["history"] == [{"epoch": 1}]  # the curves of earlier runs stay


def test_continue_config_keeps_the_models_architecture():
    model = MLP([784, 32, 16, 10], "tanh", dropout=0.3, seed=0)
    model.meta["training"] = TrainConfig(hidden=(32, 16), activation="tanh", dropout=0.3, lr=0.01, epochs=7).to_dict()
    again = continue_config(model, 2)
    assert (again.hidden, again.activation, again.dropout, again.lr, again.epochs) == ((32, 16), "tanh", 0.3, 0.01, 2)
    # The command line's way: its own flags, but the model's architecture.
    flags = TrainConfig(hidden=(256,), activation="relu", dropout=0.0, lr=0.5, epochs=4)
    config = continue_config(model, settings=flags)
    assert (config.hidden, config.activation, config.dropout, config.lr, config.epochs) == ((32, 16), "tanh", 0.3,
                                                                                             0.5, 4)
    assert flags.hidden == (256,)  # the settings given are not changed


def test_with_seed_is_a_fresh_model_with_these_weights():
    model = MLP([784, 16, 10], dropout=0.5, seed=1)
    model.meta["dataset"] = "mnist"
    twin = model.with_seed(7)
    fresh = MLP([784, 16, 10], dropout=0.5, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(twin.get_weights(), model.get_weights()))
    assert twin.meta == model.meta and twin.meta is not model.meta
    assert twin.dropout_rng.bit_generator.state == fresh.dropout_rng.bit_generator.state
