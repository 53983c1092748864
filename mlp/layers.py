"""Layers: small classes with ``forward(x)`` and ``backward(grad) -> grad_x``.

Rows are samples: x is (n, features). Parameters and their gradients live side
by side in ``params`` and ``grads`` under the same keys.

Speed: a training forward pass (``training=True``) and every backward pass write
into arrays the layer keeps and reuses from batch to batch (see `Scratch`), so a
training step allocates almost nothing. Inference (``training=False``) stores
nothing and writes only into fresh arrays, so one network can serve many threads
at once. Scratch arrays are dropped when a layer is copied.
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


class Scratch:
    """Named arrays reused across training batches: ``get(name, n, d, dtype)`` -> (n, d).

    Each array is allocated for the largest batch seen so far and handed out as
    a view of its first n rows (still C-contiguous), so the short last batch of
    an epoch costs no allocation either. A new width or dtype reallocates.
    """

    def __init__(self):
        self._arrays = {}

    def get(self, name, n, d, dtype):
        a = self._arrays.get(name)
        if a is None or a.shape[0] < n or a.shape[1] != d or a.dtype != dtype:
            a = self._arrays[name] = np.empty((n, d), dtype=dtype)
        return a[:n]


class Layer:
    """What every layer shares: the training-only state that copies leave behind."""

    params = grads = {}
    _transient = ("_scratch",)  # attributes a copy starts without (cheap to rebuild)

    @property
    def scratch(self):
        """This layer's reusable training arrays (created on first use)."""
        try:
            return self._scratch
        except AttributeError:
            self._scratch = Scratch()
            return self._scratch

    def __getstate__(self):
        # copy.deepcopy (model snapshots) should copy weights, not batch-sized scratch.
        state = self.__dict__.copy()
        for name in self._transient:
            state.pop(name, None)
        return state


class Dense(Layer):
    """Affine layer y = x @ W + b, W: (n_in, n_out), b: (n_out,)."""

    _transient = ("_scratch", "_x")

    def __init__(self, n_in, n_out, *, init="he", rng=None, dtype=np.float32):
        rng = np.random.default_rng(0) if rng is None else rng
        self.params = {
            "W": init_weights(n_in, n_out, init, rng, dtype),
            "b": np.zeros(n_out, dtype=dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        # The first layer's input is the data: nobody needs its gradient.
        self.needs_input_grad = True

    def forward(self, x, training=False):
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

    def backward(self, grad):
        """grad: (n, n_out) dL/dy. Fills grads, returns (n, n_in) dL/dx (or None)."""
        W, x = self.params["W"], self._x
        np.matmul(x.T, grad, out=self.grads["W"])
        np.sum(grad, axis=0, out=self.grads["b"])
        if not self.needs_input_grad:
            return None
        return np.matmul(grad, W.T, out=self.scratch.get("dx", len(grad), W.shape[0], W.dtype))

    def __repr__(self):
        n_in, n_out = self.params["W"].shape
        return f"Dense({n_in}, {n_out})"


class Activation(Layer):
    """Elementwise activation looked up by name in ACTIVATIONS."""

    _transient = ("_scratch", "_y")

    def __init__(self, name):
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
        self.name = name

    def forward(self, x, training=False):
        """(n, d) -> (n, d). When training, keeps the output for backward."""
        if not training:
            return ACTIVATIONS[self.name](x)
        self._y = ACTIVATIONS[self.name](x, out=self.scratch.get("y", *x.shape, x.dtype))
        return self._y

    def backward(self, grad):
        """Returns dL/dx; the incoming grad is modified in place and returned."""
        return DERIVATIVES[self.name](self._y, grad)

    def __repr__(self):
        return f"Activation({self.name!r})"


class Dropout(Layer):
    """Inverted dropout: zeroes a fraction `rate` of units while training, scales the rest.

    At inference it is the identity, so predictions need no rescaling.
    """

    _transient = ("_scratch", "_mask")

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
        # Speed: a unit is kept when 16 raw random bits, read as an integer, fall below
        # threshold = (1 - rate) * 2**16 rounded: a quarter of the cost of a random float per
        # unit. The keep probability is then threshold / 2**16, within 2**-17 of 1 - rate, and
        # kept units are scaled by its exact inverse, so the layer stays unbiased.
        threshold = min(max(round((1.0 - self.rate) * 2**16), 1), 2**16 - 1)
        bits = self.rng.bit_generator.random_raw(-(-x.size // 4)).view(np.uint16)[: x.size].reshape(x.shape)
        kept = np.less(bits, np.uint16(threshold), out=self.scratch.get("kept", *x.shape, np.bool_))
        # mask: 0 for a dropped unit, 1/keep for a kept one (inverted dropout).
        scale = x.dtype.type(2**16 / threshold)
        self._mask = np.multiply(kept, scale, out=self.scratch.get("mask", *x.shape, x.dtype))
        return np.multiply(x, self._mask, out=self.scratch.get("y", *x.shape, x.dtype))

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
