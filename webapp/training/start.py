"""Glue between the Train page and background jobs: starting runs."""

import copy

from mlp import build_model
from mlp.meta import continue_config, score_on_test_set, stamp_training
from webapp.training.jobs import TrainingJob

# continue_config is mlp.meta's, re-exported for the Train page.
__all__ = ["continue_config", "finish_with_test_score", "start_job"]


def finish_with_test_score(x_test, y_test):
    """A `finish` callback for TrainingJob: the test-set scores into model.meta (mlp.meta)."""

    def finish(model):
        score_on_test_set(model, x_test, y_test)

    return finish


def start_job(name, config, dataset, slots, *, model=None, alive=None, grace=30.0):
    """Start a TrainingJob on `dataset` (a data.Dataset) with `config`; a new model unless one is given."""
    if model is None:
        model = build_model(config, n_out=len(dataset.class_names))
    else:
        model = copy.deepcopy(model)  # the session keeps the old one until the new run has epochs
    stamp_training(model, config, dataset, name=name)
    finish = finish_with_test_score(dataset.x_test, dataset.y_test)
    data = ("webapp.training.jobs:load_training_split", (dataset.name, str(dataset.source)))
    return TrainingJob(name, model, config, data, slots=slots, finish=finish, alive=alive, grace=grace).start()

