"""Glue between the Train page and background jobs: parsing sidebar input, starting runs."""

import copy
import math

from mlp import TrainConfig, build_model, to_inputs
from mlp.preprocess import PREPROCESS_VERSION

from .jobs import TrainingJob


def parse_hidden(text):
    """'256, 128' -> (256, 128); raises ValueError naming the bad part. Empty text: no hidden layer."""
    parts = text.replace(",", " ").split()
    sizes = []
    for p in parts:
        try:
            n = int(p)
        except ValueError:
            raise ValueError(f"hidden layer sizes must be whole numbers, got {p!r}") from None
        if n <= 0:
            raise ValueError(f"hidden layer sizes must be positive, got {n}")
        if n > 4096:
            raise ValueError(f"hidden layers of more than 4096 units are too slow here, got {n}")
        sizes.append(n)
    if len(sizes) > 6:
        raise ValueError(f"at most 6 hidden layers, got {len(sizes)}")
    return tuple(sizes)


def parse_positive_float(text, name):
    """'1e-3' -> 0.001; raises ValueError for text that is not a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number such as 0.001, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number greater than 0, got {text!r}")
    return value


def finish_with_test_score(x_test, y_test):
    """A `finish` callback for TrainingJob: test-set score and metadata into model.meta."""

    def finish(model):
        ev = model.evaluate(to_inputs(x_test, model.dtype), y_test)
        model.meta.update(
            test_accuracy=ev.accuracy,
            test_loss=ev.loss,
            per_class_accuracy=ev.to_dict()["per_class_accuracy"],
        )

    return finish


def start_job(name, config, dataset, slots, *, model=None, alive=None, grace=30.0):
    """Start a TrainingJob on `dataset` (a data.Dataset) with `config`; a new model unless one is given."""
    if model is None:
        model = build_model(config, n_out=len(dataset.class_names))
    else:
        model = copy.deepcopy(model)  # the session keeps the old one until the new run has epochs
    model.meta.update(
        dataset=dataset.name,
        class_names=list(dataset.class_names),
        preprocess_version=PREPROCESS_VERSION,
        training=config.to_dict(),
        name=name,
    )
    finish = finish_with_test_score(dataset.x_test, dataset.y_test)
    data = ("webapp.jobs:load_training_split", (dataset.name, str(dataset.source)))
    return TrainingJob(name, model, config, data, slots=slots, finish=finish, alive=alive, grace=grace).start()


def continue_config(model, epochs):
    """The settings a model was trained with, for `epochs` more epochs."""
    config = TrainConfig.from_dict(model.meta.get("training", {}))
    config.hidden = tuple(model.layer_sizes[1:-1])
    config.activation, config.dropout = model.activation, model.dropout
    config.epochs = epochs
    return config
