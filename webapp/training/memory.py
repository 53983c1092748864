"""What a run costs in memory: its model's arrays, and an estimate of its worker process. No Streamlit.

webapp.session.budget adds these up for every visitor (a run's own total is TrainingJob.memory_bytes).
"""

import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from mlp import MLP
from mlp.io import loaded_bytes

__all__ = ["WORKER_BASE_BYTES", "model_bytes", "process_bytes", "worker_bytes"]

#: A training worker's memory before its network: Python, NumPy and the training split of MNIST (measured
#: 147 MB for a 784-256-128-10 network after its first epoch, 246 MB for 784-4096-10).
WORKER_BASE_BYTES = 150 * 2**20


def model_bytes(model: MLP) -> int:
    """Bytes an MLP holds: its weights and biases, and the gradient arrays beside them."""
    return sum(a.nbytes for pair in model.flat_parameters() for a in pair[:2])


def worker_bytes(layer_sizes: Sequence[int], dtype: DTypeLike = "float32", batch_size: int = 128) -> int:
    """An estimate of a worker's memory for a network: its base, each weight six times over (weights,
    gradients, Adam's two moments, scratch), and a batch's activations and their gradients."""
    itemsize = np.dtype(dtype).itemsize
    return WORKER_BASE_BYTES + 6 * loaded_bytes(layer_sizes, dtype) + 6 * batch_size * sum(layer_sizes) * itemsize


def process_bytes(pid: int) -> int:
    """A live process's resident memory in bytes (Linux's /proc); 0 once it has gone, or where /proc is not."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
