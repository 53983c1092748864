"""The multi-layer perceptron: Dense layers with a hidden activation, softmax output."""

import copy
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .activations import ACTIVATIONS
from .arrays import Floats, Ints, Parameter
from .layers import Activation, Dense, Dropout, Layer, init_scheme
from .losses import soft_cross_entropy, softmax, softmax_cross_entropy
from .metrics import Evaluation, evaluate_predictions

if TYPE_CHECKING:
    from .memory import Memory  # memory needs augment, which needs hyperparams, which needs this module

DTYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float64": np.float64}


def check_architecture(layer_sizes: Iterable[int], activation: str, dropout: float = 0.0) -> None:
    """Raise ValueError naming the bad value if the architecture makes no sense."""
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"need at least an input and an output size, got {sizes}")
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ValueError(f"layer sizes must be positive integers, got {sizes}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}")
    if not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")


INFERENCE_BYTES = 64 * 1024 * 1024  # what predict_proba's batches may take at once


class MLP:
    """A fully connected network: layer_sizes = [n_in, *hidden, n_out].

    Hidden layers use `activation` (and dropout, if any); the output layer gives
    logits that softmax turns into class probabilities. `memory` (an mlp.memory.Memory or None):
    drawings a reading leans on when it is close to one of them (predict_proba).
    """

    #: Only on a model mlp.io.load_model read: the metadata fields the file had wrong, which were dropped.
    dropped_meta: list[str]

    def __init__(self, layer_sizes: Iterable[int], activation: str = "relu", *, dropout: float = 0.0, seed: int = 0,
                 dtype: str = "float32") -> None:
        check_architecture(layer_sizes, activation, dropout)
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        self.layer_sizes = [int(s) for s in layer_sizes]
        self.activation = activation
        self.dropout = float(dropout)
        self.dtype = np.dtype(DTYPES[dtype])
        # Weights and dropout masks draw from separate streams so that changing
        # the dropout rate does not change the initial weights.
        init_rng, self.dropout_rng = np.random.default_rng(seed).spawn(2)
        self.layers: list[Layer] = []
        self.dense: list[Dense] = []
        pairs = list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))
        for i, (n_in, n_out) in enumerate(pairs):
            last = i == len(pairs) - 1
            # The output layer feeds softmax: Glorot suits it whatever the hidden activation.
            scheme = "glorot" if last else init_scheme(activation)
            layer = Dense(n_in, n_out, init=scheme, rng=init_rng, dtype=self.dtype)
            self.dense.append(layer)
            self.layers.append(layer)
            if not last:
                self.layers.append(Activation(activation))
                if self.dropout > 0:
                    self.layers.append(Dropout(self.dropout, self.dropout_rng))
        self.dense[0].needs_input_grad = False
        self.meta: dict[str, Any] = {}  # JSON: see mlp.meta and mlp.schema
        self.memory: "Memory | None" = None
        self._pack_parameters()

    def with_seed(self, seed: int) -> "MLP":
        """A copy (same weights and meta) whose dropout masks draw from `seed`, as MLP(..., seed=seed)'s would."""
        twin = MLP(self.layer_sizes, self.activation, dropout=self.dropout, seed=seed, dtype=self.dtype.name)
        twin.set_weights(self.get_weights())
        twin.meta = copy.deepcopy(self.meta)
        twin.memory = self.memory  # immutable: shared
        return twin

    # -- forward and backward -------------------------------------------------

    def forward(self, x: Floats, training: bool = False) -> Floats:
        """(n, n_in) -> (n, n_out) logits."""
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, grad: Floats) -> None:
        """Back-propagate dL/dlogits (n, n_out), filling every layer's grads."""
        delta: Floats | None = grad
        for layer in reversed(self.layers):
            assert delta is not None  # only the first layer, the last to run, returns None
            delta = layer.backward(delta)

    def loss_and_grads(self, x: ArrayLike, labels: ArrayLike, training: bool = True,
                       targets: Floats | None = None) -> tuple[float, Floats]:
        """One forward and backward pass; returns (loss, probs). Grads are left in the layers.

        `targets` ((n, k) distributions) replaces the labels' targets in the loss when given.
        Drops the memory: its features describe the weights before the step these grads are for.
        """
        self.memory = None
        logits = self.forward(self.cast(x), training)
        if targets is None:
            loss, probs, grad = softmax_cross_entropy(logits, labels)
        else:
            loss, probs, grad = soft_cross_entropy(logits, targets)
        self.backward(grad)
        return loss, probs

    # -- parameters -----------------------------------------------------------

    def parameters(self) -> list[Parameter]:
        """[(param, grad, is_weight)] for every trainable array, in layer order."""
        return [(d.params[k], d.grads[k], k == "W") for d in self.dense for k in ("W", "b")]

    def flat_parameters(self) -> list[Parameter]:
        """[(weights, weight_grads, True), (biases, bias_grads, False)] as 1-D vectors.

        Every layer's W (and b) is a view into one of these, so an optimizer given
        them updates the whole network in a few large NumPy calls. (Per array, the
        small biases and the last layer would cost more in call overhead than in
        arithmetic.) For training; `parameters()` is the per-layer view.
        """
        return [(*self._flat["W"], True), (*self._flat["b"], False)]

    def _pack_parameters(self) -> None:
        """Move all weights into one contiguous vector, all biases into another; layers keep views."""
        self._flat: dict[str, tuple[Floats, Floats]] = {}
        for key in ("W", "b"):
            arrays = [d.params[key] for d in self.dense]
            flat = np.concatenate([a.ravel() for a in arrays]).astype(self.dtype, copy=False)
            grads = np.zeros_like(flat)
            start = 0
            for d, a in zip(self.dense, arrays):
                stop = start + a.size
                d.params[key] = flat[start:stop].reshape(a.shape)
                d.grads[key] = grads[start:stop].reshape(a.shape)
                start = stop
            self._flat[key] = (flat, grads)

    def __getstate__(self) -> dict[str, Any]:
        # copy.deepcopy copies each layer's arrays on their own; __setstate__ packs them again.
        state = self.__dict__.copy()
        del state["_flat"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pack_parameters()

    def __copy__(self) -> "MLP":
        # A shallow copy would share the layers but not the flat vectors they are views of.
        return copy.deepcopy(self)

    @property
    def n_parameters(self) -> int:
        """Total count of trainable numbers."""
        return sum(p.size for p, _, _ in self.parameters())

    def get_weights(self) -> list[Floats]:
        """Copies of all weights and biases: [W0, b0, W1, b1, ...]."""
        return [p.copy() for p, _, _ in self.parameters()]

    def set_weights(self, arrays: Sequence[NDArray[Any]]) -> None:
        """Copy arrays (as from get_weights) into the network; shapes must match."""
        params = self.parameters()
        if len(arrays) != len(params):
            raise ValueError(f"expected {len(params)} arrays, got {len(arrays)}")
        for (p, _, _), a in zip(params, arrays):
            if a.shape != p.shape:
                raise ValueError(f"shape mismatch: expected {p.shape}, got {a.shape}")
            p[...] = a

    def weights_finite(self) -> bool:
        """True if no weight or bias is NaN or infinite."""
        return all(np.isfinite(p).all() for p, _, _ in self.parameters())

    # -- inference --------------------------------------------------------------

    def cast(self, x: ArrayLike) -> Floats:
        """x as a 2-D array of this network's dtype (no copy if it already is)."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.layer_sizes[0]:
            raise ValueError(
                f"expected input of shape (n, {self.layer_sizes[0]}), got {x.shape}"
            )
        return x.astype(self.dtype, copy=False)

    def predict_proba(self, x: ArrayLike, batch_size: int | None = None) -> Floats:
        """(n, n_in) -> (n, n_out) class probabilities, computed in batches.

        The batch (default: as many rows as keep a pass's arrays within INFERENCE_BYTES, at most
        8192) bounds the memory a wide network takes while it reads a whole test set. With a
        `memory`, each row's probabilities are mixed with its (Memory.mix).
        """
        x = np.asarray(x)
        if batch_size is None:
            row = 3 * max(self.layer_sizes) * self.dtype.itemsize  # a layer's input, output and activation
            batch_size = int(min(8192, max(1, INFERENCE_BYTES // row)))
        out = np.empty((len(x), self.layer_sizes[-1]), dtype=self.dtype)
        for start in range(0, len(x), batch_size):
            chunk = self.cast(x[start:start + batch_size])
            if self.memory is None:
                out[start:start + len(chunk)] = softmax(self.forward(chunk))
                continue
            for layer in self.layers[:-1]:
                chunk = layer.forward(chunk)  # (rows, last hidden width)
            out[start:start + len(chunk)] = self.memory.mix(chunk, softmax(self.layers[-1].forward(chunk)))
        return out

    def predict(self, x: ArrayLike) -> Ints:
        """(n, n_in) -> (n,) most probable class."""
        classes: Ints = self.predict_proba(x).argmax(axis=1)
        return classes

    def evaluate(self, x: ArrayLike, labels: ArrayLike) -> Evaluation:
        """Accuracy, per-class accuracy, confusion matrix and loss on (x, labels)."""
        probs = self.predict_proba(x)
        return evaluate_predictions(probs, labels, self.layer_sizes[-1])

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        memory = "" if self.memory is None else f", memory={self.memory.count} exemplars"
        return f"MLP({self.layer_sizes}, activation={self.activation!r}, dropout={self.dropout}{memory})[{inner}]"
