"""What a run costs in the server's memory: its model's arrays, and its state between slices. No Streamlit.

webapp.session.budget adds these up for every visitor (a run's own total is TrainingJob.memory_bytes).
The engine's workers are not in it: a fixed number of processes, each with its own limit (webapp.settings).
"""

from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from mlp import MLP
from mlp.adapt_config import AdaptConfig
from mlp.io import loaded_bytes
from mlp.memory import copies_kept

__all__ = ["WORKER_BASE_BYTES", "memory_bytes", "model_bytes", "state_bytes", "worker_bytes"]

#: An engine worker's memory before its network: Python, NumPy, Dask and the training split of MNIST (measured
#: 147 MB for a 784-256-128-10 network after its first epoch in a worker process, 246 MB for 784-4096-10).
WORKER_BASE_BYTES = 150 * 2**20


def model_bytes(model: MLP) -> int:
    """Bytes an MLP holds: its weights and biases, the gradient arrays beside them, and any memory of drawings."""
    memory = model.memory
    kept = 0 if memory is None else memory.features.nbytes + memory.labels.nbytes + memory.radii.nbytes
    return sum(a.nbytes for pair in model.flat_parameters() for a in pair[:2]) + kept


def memory_bytes(model: MLP, drawings: int, copies: int = AdaptConfig().memory_copies) -> int:
    """At most the bytes of the memory teaching gives `model` for `drawings` drawings (mlp.memory): a row of the
    last hidden layer (float32), a label and a radius for each drawing and each of its distorted copies."""
    if len(model.layer_sizes) < 3:
        return 0
    width = model.layer_sizes[-2]
    return drawings * (1 + copies_kept(drawings, width, copies)) * (4 * width + 8 + 4)


def state_bytes(layer_sizes: Sequence[int], dtype: DTypeLike = "float32") -> int:
    """At most the bytes of a run's state between two slices (mlp.resume): its weights, early stopping's best
    epoch's and up to two optimizer moments (Adam's), each as large as the weights."""
    return 4 * loaded_bytes(layer_sizes, dtype)


def worker_bytes(layer_sizes: Sequence[int], dtype: DTypeLike = "float32", batch_size: int = 128) -> int:
    """An estimate of an engine worker's memory while it trains a network: its base, each weight six times over
    (weights, gradients, Adam's two moments, scratch), and a batch's activations and their gradients."""
    itemsize = np.dtype(dtype).itemsize
    return WORKER_BASE_BYTES + 6 * loaded_bytes(layer_sizes, dtype) + 6 * batch_size * sum(layer_sizes) * itemsize
