"""Starting runs: a training run for the Train page, a teach run for the Draw page's Teach."""

import copy
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from data import Dataset
from mlp import MLP, TrainConfig, build_model
from mlp.adapt import AdaptConfig, check_drawings
from mlp.meta import continue_config, score_on_test_set, stamp_training
from webapp.training.engine import Engine
from webapp.training.job import TrainingJob
from webapp.training.protocol import Loader, Teach
from webapp.training.sources import training_split

# continue_config is mlp.meta's, re-exported for the Train page.
__all__ = ["continue_config", "finish_with_test_score", "start_job", "start_teaching"]


def finish_with_test_score(x_test: ArrayLike, y_test: ArrayLike) -> Callable[[MLP], None]:
    """A `finish` callback for TrainingJob: the test-set scores into model.meta (mlp.meta)."""

    def finish(model: MLP) -> None:
        score_on_test_set(model, x_test, y_test)

    return finish


def start_job(name: str, config: TrainConfig, dataset: Dataset, engine: Engine, *, model: MLP | None = None,
              alive: Callable[[], bool] | None = None, grace: float = 30.0) -> TrainingJob:
    """Start a TrainingJob on `dataset` (a data.Dataset) with `config`; a new model unless one is given."""
    if model is None:
        model = build_model(config, n_out=len(dataset.class_names))
    else:
        model = copy.deepcopy(model)  # the session keeps the old one until the new run has epochs
    stamp_training(model, config, dataset, name=name)
    finish = finish_with_test_score(dataset.x_test, dataset.y_test)
    return TrainingJob(name, model, config, training_split(dataset), engine=engine, finish=finish, alive=alive,
                       grace=grace).start()


def start_teaching(name: str, model: MLP, images: NDArray[np.uint8], labels: NDArray[np.int64], data: Loader,
                   engine: Engine, *, config: AdaptConfig | None = None, seed: int = 0,
                   alive: Callable[[], bool] | None = None, grace: float = 30.0) -> TrainingJob:
    """Start a teach job: a copy of `model` fine-tuned on `images` (n, 28, 28) uint8 with `labels` (n,).

    data: the Loader the worker calls for ((x_replay, y_replay), (x_test, y_test)), e.g.
    webapp.training.sources.replay_source(dataset); the worker replays the first pair and scores the
    second before and after (mlp.adapt). `config` is an mlp.adapt.AdaptConfig (its defaults if None).
    The caller's model is never changed; the job's `model` becomes the taught one when it completes.
    Unusable drawings raise mlp.adapt.AdaptError here, before a worker starts.
    """
    check_drawings(images, labels)
    teach = Teach(images, labels, (config or AdaptConfig()).validate(), seed)
    return TrainingJob(name, copy.deepcopy(model), teach, data, engine=engine, alive=alive, grace=grace).start()
