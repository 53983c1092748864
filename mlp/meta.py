"""Model metadata: the one writer of what a trained model records about itself.

``model.meta`` is a plain dict saved as JSON with the weights (mlp.io). Every key it may hold:

Written by ``mlp.io`` on save (the architecture; never set by hand):
    format, format_version   "digit-lab-mlp" and the file format's version
    layer_sizes              [n_in, *hidden, n_out]
    activation, dropout, dtype
    created                  UTC time of the first save (ISO 8601); a new training result drops it

Written by ``Trainer`` while it trains:
    history                  one EpochRecord dict per finished epoch, across continued runs
                             (epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr,
                             seconds, val_seconds, samples_per_second)

Written here by ``stamp_training``, when a run starts:
    dataset                  the dataset's name ("mnist", "fashion-mnist")
    class_names              the dataset's class names, in label order
    preprocess_version       mlp.preprocess.PREPROCESS_VERSION: how drawings must be prepared
    training                 TrainConfig.to_dict() of the latest run
    name                     the app's name for the model ("My model 1"); the command line sets none

Written here by ``stamp_outcome``, when a run ends (the command line; the app keeps it in the job):
    outcome                  a TrainOutcome's value: "completed", "stopped", "early_stopped" or "diverged"

Written here by ``stamp_test_scores``, after training (scores of the current weights only:
``stamp_training`` drops them when new training starts):
    test_accuracy, test_loss the dataset's test split
    per_class_accuracy       one accuracy per class, in label order
    drawn_digits             drawn.score_drawn's record (accuracy on pen-drawn canvases), when scored

Written by the command line's ``train --negatives/--pen`` (drawn.extras), for the current weights:
    unsure                   mlp.unsure.stamp_unsure's record: the threshold below which a reading is
                             flagged unsure, how it was calibrated and ("measured") the flag rates
    pen_digits               drawn.extras.handwriting_report: held-out pen digits per style, digit, writer

Written by ``mlp.adapt`` on a taught copy (the command line's ``adapt``, the Draw page's Teach):
    adapted                  how it was taught: drawings per digit, steps, seconds, seed, and the
                             held-out drawings' and MNIST test's accuracy before and after (and its
                             memory's summary, when taught with one)

Written by ``mlp.io`` on save, from ``model.memory`` (mlp.memory), and dropped on load once read:
    memory                   the memory's count, width, gate and weights digest, which its arrays
                             (memory_features, memory_labels, memory_radii) are checked against
"""

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from numpy.typing import ArrayLike

from .config import TrainConfig, TrainOutcome
from .metrics import Evaluation
from .network import MLP
from .preprocess import PREPROCESS_VERSION
from .training import to_inputs

if TYPE_CHECKING:
    from data import Dataset

__all__ = ["STALE_KEYS", "continue_config", "score_on_test_set", "stamp_outcome", "stamp_test_scores", "stamp_training"]

#: Keys that describe particular weights (their scores, how their run ended, when they were saved):
#: stale as soon as those weights train further.
STALE_KEYS = ("test_accuracy", "test_loss", "per_class_accuracy", "drawn_digits", "outcome", "created", "unsure",
              "pen_digits")


def stamp_training(model: MLP, config: TrainConfig, dataset: "Dataset", *, name: str | None = None) -> MLP:
    """Record what a run trains on (`dataset`: a data.Dataset) and with (`config`); drops stale scores."""
    for key in STALE_KEYS:
        model.meta.pop(key, None)
    model.meta.update(
        dataset=dataset.name,
        class_names=list(dataset.class_names),
        preprocess_version=PREPROCESS_VERSION,
        training=config.to_dict(),
    )
    if name is not None:
        model.meta["name"] = name
    return model


def stamp_outcome(model: MLP, outcome: TrainOutcome | str) -> MLP:
    """Record how the latest run ended (a Trainer's outcome, or its value), as the plain string."""
    model.meta["outcome"] = TrainOutcome(outcome).value
    return model


def stamp_test_scores(model: MLP, evaluation: Evaluation, *, drawn: dict[str, Any] | None = None) -> MLP:
    """Record a test-set Evaluation (and a drawn-digit score, if given) for the model's current weights."""
    model.meta.update(
        test_accuracy=evaluation.accuracy,
        test_loss=evaluation.loss,
        per_class_accuracy=evaluation.to_dict()["per_class_accuracy"],
    )
    if drawn is not None:
        model.meta["drawn_digits"] = drawn
    return model


def score_on_test_set(model: MLP, x_test: ArrayLike, y_test: ArrayLike) -> Evaluation:
    """Evaluate on the test split (uint8 images) and stamp the scores; returns the Evaluation."""
    evaluation = model.evaluate(to_inputs(x_test, model.dtype), y_test)
    stamp_test_scores(model, evaluation)
    return evaluation


def continue_config(model: MLP, epochs: int | None = None, settings: TrainConfig | None = None) -> TrainConfig:
    """The TrainConfig that trains `model` further.

    `settings` (default: the settings the model was last trained with) with the model's own
    architecture (hidden sizes, activation, dropout), which always wins, for `epochs` more
    epochs (default: the settings' epochs).
    """
    config = TrainConfig.from_dict(model.meta.get("training", {})) if settings is None else replace(settings)
    config.hidden = tuple(model.layer_sizes[1:-1])
    config.activation, config.dropout = model.activation, model.dropout
    if epochs is not None:
        config.epochs = epochs
    return config
