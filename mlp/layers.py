"""Layers: small classes with ``forward(x)`` and ``backward(grad) -> grad_x``.

Rows are samples: x is (n, features). Parameters and their gradients live side
by side in ``params`` and ``grads`` under the same keys.

Speed: a training forward pass (``training=True``) and every backward pass write
into arrays the layer keeps and reuses from batch to batch (see `Scratch`), so a
training step allocates almost nothing. Inference (``training=False``) stores
nothing and writes only into fresh arrays, so one network can serve many threads
at once. Scratch arrays are dropped when a layer is copied.
"""

from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .activations import ACTIVATIONS, DERIVATIVES, INIT
from .arrays import Floats


def init_weights(n_in: int, n_out: int, scheme: str, rng: np.random.Generator, dtype: DTypeLike) -> Floats:
    """A (n_in, n_out) weight matrix: He-normal or Glorot-uniform."""
    if scheme == "he":
        w = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
    elif scheme == "glorot":
        limit = np.sqrt(6.0 / (n_in + n_out))
        w = rng.uniform(-limit, limit, size=(n_in, n_out))
    else:
        raise ValueError(f"unknown weight init {scheme!r}; expected 'he' or 'glorot'")
    weights: Floats = w.astype(dtype)
    return weights


class Scratch:
    """Named arrays reused across training batches: ``get(name, n, d, dtype)`` -> (n, d).

    Each array is allocated for the largest batch seen so far and handed out as
    a view of its first n rows (still C-contiguous), so the short last batch of
    an epoch costs no allocation either. A new width or dtype reallocates.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, NDArray[Any]] = {}

    def get(self, name: str, n: int, d: int, dtype: DTypeLike) -> NDArray[Any]:
        a = self._arrays.get(name)
        if a is None or a.shape[0] < n or a.shape[1] != d or a.dtype != dtype:
            a = self._arrays[name] = np.empty((n, d), dtype=dtype)
        return a[:n]


class Layer:
    """What every layer shares: the training-only state that copies leave behind."""

    params: dict[str, Floats] = {}
    grads: dict[str, Floats] = {}
    _transient: tuple[str, ...] = ("_scratch",)  # attributes a copy starts without (cheap to rebuild)

    _scratch: Scratch

    @property
    def scratch(self) -> Scratch:
        """This layer's reusable training arrays (created on first use)."""
        try:
            return self._scratch
        except AttributeError:
            self._scratch = Scratch()
            return self._scratch

    def __getstate__(self) -> dict[str, Any]:
        # copy.deepcopy (model snapshots) should copy weights, not batch-sized scratch.
        state = self.__dict__.copy()
        for name in self._transient:
            state.pop(name, None)
        return state

    def forward(self, x: Floats, training: bool = False) -> Floats:
        """(n, d_in) -> (n, d_out). When training, keeps what backward needs."""
        raise NotImplementedError

    def backward(self, grad: Floats) -> Floats | None:
        """dL/dy -> dL/dx (None where nobody needs it), filling grads."""
        raise NotImplementedError


class Dense(Layer):
    """Affine layer y = x @ W + b, W: (n_in, n_out), b: (n_out,)."""

    _transient = ("_scratch", "_x")

    def __init__(self, n_in: int, n_out: int, *, init: str = "he", rng: np.random.Generator | None = None,
                 dtype: DTypeLike = np.float32) -> None:
        rng = np.random.default_rng(0) if rng is None else rng
        self.params = {
            "W": init_weights(n_in, n_out, init, rng, dtype),
            "b": np.zeros(n_out, dtype=dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        # The first layer's input is the data: nobody needs its gradient.
        self.needs_input_grad = True

    def forward(self, x: Floats, training: bool = False) -> Floats:
        """(n, n_in) -> (n, n_out). When training, keeps x for backward."""
        W, b = self.params["W"], self.params["b"]
        if not training:
            y = x @ W
            y += b
            return y
        self._x = x
        y = np.matmul(x, W, out=self.scratch.get("y", len(x), W.shape[1], W.dtype))
        y += b
        return y

    def backward(self, grad: Floats) -> Floats | None:
        """grad: (n, n_out) dL/dy. Fills grads, returns (n, n_in) dL/dx (or None)."""
        W, x = self.params["W"], self._x
        np.matmul(x.T, grad, out=self.grads["W"])
        np.sum(grad, axis=0, out=self.grads["b"])
        if not self.needs_input_grad:
            return None
        return np.matmul(grad, W.T, out=self.scratch.get("dx", len(grad), W.shape[0], W.dtype))

    def __repr__(self) -> str:
        n_in, n_out = self.params["W"].shape
        return f"Dense({n_in}, {n_out})"


class Activation(Layer):
    """Elementwise activation looked up by name in ACTIVATIONS."""

    _transient = ("_scratch", "_y")

    def __init__(self, name: str) -> None:
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
        self.name = name

    def forward(self, x: Floats, training: bool = False) -> Floats:
        """(n, d) -> (n, d). When training, keeps the output for backward."""
        if not training:
            return ACTIVATIONS[self.name](x)
        n, d = x.shape
        self._y = ACTIVATIONS[self.name](x, out=self.scratch.get("y", n, d, x.dtype))
        return self._y

    def backward(self, grad: Floats) -> Floats:
        """Returns dL/dx; the incoming grad is modified in place and returned."""
        return DERIVATIVES[self.name](self._y, grad)

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


class Dropout(Layer):
    """Inverted dropout: zeroes a fraction `rate` of units while training, scales the rest.

    At inference it is the identity, so predictions need no rescaling.
    """

    _transient = ("_scratch", "_mask")

    def __init__(self, rate: float, rng: np.random.Generator | None = None) -> None:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.rng = np.random.default_rng(0) if rng is None else rng
        self._mask: Floats | None = None

    def forward(self, x: Floats, training: bool = False) -> Floats:
        """(n, d) -> (n, d); draws a fresh mask from self.rng when training."""
        if not training or self.rate == 0.0:
            return x
        # Speed: a unit is kept when 16 raw random bits, read as an integer, fall below
        # threshold = (1 - rate) * 2**16 rounded: a quarter of the cost of a random float per
        # unit. The keep probability is then threshold / 2**16, within 2**-17 of 1 - rate, and
        # kept units are scaled by its exact inverse, so the layer stays unbiased.
        threshold = min(max(round((1.0 - self.rate) * 2**16), 1), 2**16 - 1)
        bits = self.rng.bit_generator.random_raw(-(-x.size // 4)).view(np.uint16)[: x.size].reshape(x.shape)
        n, d = x.shape
        kept = np.less(bits, np.uint16(threshold), out=self.scratch.get("kept", n, d, np.bool_))
        # mask: 0 for a dropped unit, 1/keep for a kept one (inverted dropout).
        scale = x.dtype.type(2**16 / threshold)
        self._mask = np.multiply(kept, scale, out=self.scratch.get("mask", n, d, x.dtype))
        y: Floats = np.multiply(x, self._mask, out=self.scratch.get("y", n, d, x.dtype))
        return y

    def backward(self, grad: Floats) -> Floats:
        """Routes the gradient through the units kept in the last training forward pass."""
        if self.rate == 0.0:
            return grad
        assert self._mask is not None, "backward before a training forward pass"
        grad *= self._mask
        return grad

    def __repr__(self) -> str:
        return f"Dropout({self.rate})"


def init_scheme(activation: str) -> str:
    """The weight init that suits a hidden activation ('he' or 'glorot')."""
    return INIT[activation]
