"""Names for the arrays the core passes around (numpy.typing), so a signature says what it holds."""

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Floating-point arrays: inputs, weights, gradients, probabilities (float32 unless a model is float64).
Floats = NDArray[np.floating[Any]]
#: Integer arrays: labels, indices, counts.
Ints = NDArray[np.integer[Any]]
#: Images as bytes: MNIST and preprocessed drawings, (n, 28, 28) or (28, 28) uint8.
Pixels = NDArray[np.uint8]
#: Masks.
Bools = NDArray[np.bool_]
#: A trainable array, its gradient (same shape), and whether it is a weight (True) or a bias.
Parameter = tuple[Floats, Floats, bool]
#: What a network reads: images as bytes (scaled to [0, 1] on the way in) or inputs as floats.
Inputs = NDArray[np.uint8 | np.floating[Any]]
#: Integer class labels, (n,): an array or a list.
Labels = Ints | Sequence[int]
