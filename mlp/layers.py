"""Layers: small classes with ``forward(x)`` and ``backward(grad) -> grad_x``.

Rows are samples: x is (n, features). Parameters and their gradients live side
by side in ``params`` and ``grads`` under the same keys.
"""

import numpy as np

from .activations import ACTIVATIONS, DERIVATIVES, INIT


def init_weights(n_in, n_out, scheme, rng, dtype):
    """A (n_in, n_out) weight matrix: He-normal or Glorot-uniform."""
    if scheme == "he":
        w = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
    elif scheme == "glorot":
        limit = np.sqrt(6.0 / (n_in + n_out))
        w = rng.uniform(-limit, limit, size=(n_in, n_out))
    else:
        raise ValueError(f"unknown weight init {scheme!r}; expected 'he' or 'glorot'")
    return w.astype(dtype)


class Dense:
    """Affine layer y = x @ W + b, W: (n_in, n_out), b: (n_out,)."""

    def __init__(self, n_in, n_out, *, init="he", rng=None, dtype=np.float32):
        rng = np.random.default_rng(0) if rng is None else rng
        self.params = {
            "W": init_weights(n_in, n_out, init, rng, dtype),
            "b": np.zeros(n_out, dtype=dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        # The first layer's input is the data: nobody needs its gradient.
        self.needs_input_grad = True
        self._x = None

    def forward(self, x, training=False):
        """(n, n_in) -> (n, n_out). Keeps x for backward only when training.

        Inference stores nothing, so one network can serve many threads at once.
        """
        if training:
            self._x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, grad):
        """grad: (n, n_out) dL/dy. Fills grads, returns (n, n_in) dL/dx (or None)."""
        np.matmul(self._x.T, grad, out=self.grads["W"])
        np.sum(grad, axis=0, out=self.grads["b"])
        return grad @ self.params["W"].T if self.needs_input_grad else None

    def __repr__(self):
        n_in, n_out = self.params["W"].shape
        return f"Dense({n_in}, {n_out})"


class Activation:
    """Elementwise activation looked up by name in ACTIVATIONS."""

    params = grads = {}

    def __init__(self, name):
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
        self.name = name
        self._f = ACTIVATIONS[name]
        self._df = DERIVATIVES[name]
        self._y = None

    def forward(self, x, training=False):
        """(n, d) -> (n, d). Keeps the output for backward only when training."""
        y = self._f(x)
        if training:
            self._y = y
        return y

    def backward(self, grad):
        """Returns dL/dx; the incoming grad is modified in place and returned."""
        return self._df(self._y, grad)

    def __repr__(self):
        return f"Activation({self.name!r})"


class Dropout:
    """Inverted dropout: zeroes a fraction `rate` of units while training, scales the rest.

    At inference it is the identity, so predictions need no rescaling.
    """

    params = grads = {}

    def __init__(self, rate, rng=None):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.rng = np.random.default_rng(0) if rng is None else rng
        self._mask = None

    def forward(self, x, training=False):
        """(n, d) -> (n, d); draws a fresh mask from self.rng when training."""
        if not training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        self._mask = (self.rng.random(x.shape, dtype=np.float32) < keep).astype(x.dtype)
        self._mask /= x.dtype.type(keep)
        return x * self._mask

    def backward(self, grad):
        """Routes the gradient through the units kept in the last training forward pass."""
        if self.rate == 0.0:
            return grad
        grad *= self._mask
        return grad

    def __repr__(self):
        return f"Dropout({self.rate})"


def init_scheme(activation):
    """The weight init that suits a hidden activation ('he' or 'glorot')."""
    return INIT[activation]
