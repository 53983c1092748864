"""Optimizers that update parameters in place, and learning-rate schedules.

An optimizer is given the network's [(param, grad, is_weight)] list once and then
called with `step(lr)` after every backward pass. L2 weight decay applies to
weights only, never to biases, and is added to the gradient (classic L2).
"""

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .arrays import Floats, Parameter

# Speed: values that decay geometrically towards zero pass through the subnormal floats, where
# every arithmetic operation is about a hundred times slower on x86, and NumPy cannot switch
# the CPU to flush them to zero. Two such decays happen in training:
# * a momentum or Adam moment whose gradient stays zero (the weights of a pixel that is almost
#   always blank): measured, 0.7% of Adam's first moments subnormal made each step 40% slower;
# * with weight decay, the weights of an input that is always zero, whose only gradient is
#   weight_decay * w; under Adam they shrink about 5% per step, and their squared gradients
#   turn subnormal long before they do (Adam + L2 was twice as slow by the third epoch).
# So every FLUSH_EVERY steps, moments below moment_limit() and, with weight decay, weights
# below decayed_weight_limit() are set to zero. Both limits are far below anything that
# could change a prediction (about 1e-29, and about 1e-16 / weight_decay).
FLUSH_EVERY = 64


def moment_limit(dtype: DTypeLike) -> np.floating[Any]:
    """Moments smaller than this are zeroed: 2**30 times the dtype's smallest normal number."""
    limit: np.floating[Any] = np.finfo(dtype).tiny * 2.0**30
    return limit


def decayed_weight_limit(dtype: DTypeLike, weight_decay: float) -> np.floating[Any]:
    """Weights smaller than this are zeroed: their decay gradient squared stays 2**20 times normal."""
    limit: np.floating[Any] = np.sqrt(np.finfo(dtype).tiny) * 2.0**10 / weight_decay
    return limit


def flush_tiny(a: Floats, limit: float | np.floating[Any]) -> None:
    """Zero, in place, the entries of `a` smaller in magnitude than `limit`."""
    np.multiply(a, np.abs(a) >= a.dtype.type(limit), out=a)


def flush(moments: Sequence[Floats], chunks: Sequence[Parameter], weight_decay: float, t: int) -> None:
    """Every FLUSH_EVERY-th step t: zero tiny moments, and tiny weights when weight decay is on."""
    if t % FLUSH_EVERY:
        return
    for a in moments:
        flush_tiny(a, moment_limit(a.dtype))
    if weight_decay:
        for p, _, is_weight in chunks:
            if is_weight:
                flush_tiny(p, decayed_weight_limit(p.dtype, weight_decay))


# Speed: a step makes several passes over every parameter array (ten for Adam). Large arrays
# are updated in chunks of at most CHUNK elements, so that a chunk's parameters, gradients,
# moments and scratch stay in the core's L2 cache from one pass to the next (measured: Adam
# steps about 10% faster than on the whole 235,000-weight vector at once).
CHUNK = 2**16


def in_chunks(parameters: Sequence[Parameter]) -> list[Parameter]:
    """[(param, grad, is_weight)] with each array cut into flat views of at most CHUNK elements."""
    chunks: list[Parameter] = []
    for p, g, is_weight in parameters:
        if p.size <= CHUNK or not (p.flags.c_contiguous and g.flags.c_contiguous):
            chunks.append((p, g, is_weight))
            continue
        flat_p, flat_g = p.reshape(-1), g.reshape(-1)  # views: both are contiguous
        bounds = np.linspace(0, p.size, -(-p.size // CHUNK) + 1).astype(int)
        chunks += [(flat_p[a:b], flat_g[a:b], is_weight) for a, b in zip(bounds[:-1], bounds[1:])]
    return chunks


def _joined(chunks: Sequence[Floats]) -> Floats:
    """One flat copy of per-chunk arrays, in chunk order (the parameters' order)."""
    return np.concatenate([c.ravel() for c in chunks])


def _split_into(flat: Floats, chunks: Sequence[Floats]) -> None:
    """Copy a flat vector (as from _joined) back into the chunks, in place."""
    start = 0
    for c in chunks:
        np.copyto(c, flat[start:start + c.size].reshape(c.shape))
        start += c.size


class SGD:
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Same convention as PyTorch: v = mu*v + g; p -= lr*v, or p -= lr*(g + mu*v) with Nesterov.
    """

    def __init__(self, parameters: Sequence[Parameter], *, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.parameters = parameters
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)
        self._chunks = in_chunks(parameters)
        self.velocity = [np.zeros_like(p) for p, _, _ in self._chunks] if momentum else None
        self._tmp = [np.empty_like(p) for p, _, _ in self._chunks]
        self.t = 0

    @property
    def moment_names(self) -> tuple[str, ...]:
        """The keys moments() gives."""
        return () if self.velocity is None else ("velocity",)

    def moments(self) -> dict[str, Floats]:
        """Copies of the running state: {"velocity": (n,)} with momentum, {} without (n: all parameters, in order)."""
        return {} if self.velocity is None else {"velocity": _joined(self.velocity)}

    def load_moments(self, moments: Mapping[str, Floats], t: int) -> None:
        """Put back what moments() gave, and the step count t (shapes are the caller's to check)."""
        if self.velocity is not None:
            _split_into(moments["velocity"], self.velocity)
        self.t = t

    def step(self, lr: float) -> None:
        """Apply one update with learning rate lr (every array updated in place)."""
        for i, (p, g, is_weight) in enumerate(self._chunks):
            tmp = self._tmp[i]
            if self.weight_decay and is_weight:
                g += np.multiply(p, self.weight_decay, out=tmp)
            if self.velocity is not None:
                v = self.velocity[i]
                v *= self.momentum
                v += g
                if self.nesterov:
                    g += np.multiply(v, self.momentum, out=tmp)
                else:
                    g = v
            p -= np.multiply(g, lr, out=tmp)
        self.t += 1
        flush(self.velocity or [], self._chunks, self.weight_decay, self.t)


class Adam:
    """Adam (Kingma & Ba, 2015) with bias correction.

    Speed: m and v are stored divided by (1 - beta1) and (1 - beta2); those two
    factors then fold into the scalar step size and eps, which saves two passes
    over the parameters per step. The update is the textbook one.
    """

    def __init__(self, parameters: Sequence[Parameter], *, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        self.parameters = parameters
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.weight_decay = float(weight_decay)
        self._chunks = in_chunks(parameters)
        self.m = [np.zeros_like(p) for p, _, _ in self._chunks]  # first moment / (1 - beta1)
        self.v = [np.zeros_like(p) for p, _, _ in self._chunks]  # second moment / (1 - beta2)
        self._tmp = [np.empty_like(p) for p, _, _ in self._chunks]
        self.t = 0

    moment_names = ("m", "v")  # the keys moments() gives

    def moments(self) -> dict[str, Floats]:
        """Copies of the running state, as stored (see the class docstring): {"m": (n,), "v": (n,)}."""
        return {"m": _joined(self.m), "v": _joined(self.v)}

    def load_moments(self, moments: Mapping[str, Floats], t: int) -> None:
        """Put back what moments() gave, and the step count t (shapes are the caller's to check)."""
        _split_into(moments["m"], self.m)
        _split_into(moments["v"], self.v)
        self.t = t

    def step(self, lr: float) -> None:
        """Apply one update with learning rate lr (every array updated in place)."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        # p -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = (1 - b1) m / (1 - b1^t) and
        # v_hat = (1 - b2) v / (1 - b2^t), rearranged so that only scalars carry the factors.
        root = math.sqrt((1 - b2**self.t) / (1 - b2))
        step_size = lr * (1 - b1) / (1 - b1**self.t) * root
        eps_hat = self.eps * root
        for (p, g, is_weight), m, v, tmp in zip(self._chunks, self.m, self.v, self._tmp):
            if self.weight_decay and is_weight:
                g += np.multiply(p, self.weight_decay, out=tmp)
            m *= b1
            m += g
            v *= b2
            v += np.multiply(g, g, out=tmp)
            np.sqrt(v, out=tmp)
            tmp += eps_hat
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp
        flush(self.m + self.v, self._chunks, self.weight_decay, self.t)


Optimizer = SGD | Adam

OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "momentum": SGD, "nesterov": SGD, "adam": Adam}


def make_optimizer(name: str, parameters: Sequence[Parameter], *, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> Optimizer:
    """Build an optimizer by name: 'sgd', 'momentum', 'nesterov' or 'adam'."""
    if name == "sgd":
        return SGD(parameters, weight_decay=weight_decay)
    if name == "momentum":
        return SGD(parameters, momentum=momentum, weight_decay=weight_decay)
    if name == "nesterov":
        return SGD(parameters, momentum=momentum, nesterov=True, weight_decay=weight_decay)
    if name == "adam":
        return Adam(parameters, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}")


def constant_lr(base_lr: float, epoch: int, total_epochs: int, **_: float) -> float:
    """The same rate every epoch."""
    return base_lr


def step_lr(base_lr: float, epoch: int, total_epochs: int, *, step_size: int = 10, gamma: float = 0.1,
            **_: float) -> float:
    """Multiply the rate by gamma every step_size epochs."""
    return base_lr * gamma ** (epoch // step_size)


def cosine_lr(base_lr: float, epoch: int, total_epochs: int, *, min_lr_fraction: float = 0.0, **_: float) -> float:
    """Half a cosine from base_lr (first epoch) down towards min_lr_fraction * base_lr."""
    progress = epoch / max(total_epochs, 1)
    low = base_lr * min_lr_fraction
    return low + (base_lr - low) * 0.5 * (1 + math.cos(math.pi * progress))


#: A schedule: the rate of an epoch from the base rate, the epoch, the run's epochs and its own settings.
SCHEDULES: dict[str, Callable[..., float]] = {"constant": constant_lr, "step": step_lr, "cosine": cosine_lr}
