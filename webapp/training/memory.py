"""What a run costs in the server's memory: its model's arrays, and its state between slices. No Streamlit.

webapp.session.budget adds these up for every visitor (a run's own total is TrainingJob.memory_bytes).
The engine's workers are not in it: a fixed number of processes, each with its own limit (webapp.settings).
"""

from collections.abc import Sequence

from numpy.typing import DTypeLike

from mlp import MLP
from mlp.io import loaded_bytes

__all__ = ["model_bytes", "state_bytes"]


def model_bytes(model: MLP) -> int:
    """Bytes an MLP holds: its weights and biases, and the gradient arrays beside them."""
    return sum(a.nbytes for pair in model.flat_parameters() for a in pair[:2])


def state_bytes(layer_sizes: Sequence[int], dtype: DTypeLike = "float32") -> int:
    """At most the bytes of a run's state between two slices (mlp.resume): its weights, early stopping's best
    epoch's and up to two optimizer moments (Adam's), each as large as the weights."""
    return 4 * loaded_bytes(layer_sizes, dtype)
