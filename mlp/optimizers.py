"""Optimizers that update parameters in place, and learning-rate schedules.

An optimizer is given the network's [(param, grad, is_weight)] list once and then
called with `step(lr)` after every backward pass. L2 weight decay applies to
weights only, never to biases, and is added to the gradient (classic L2).
"""

import math

import numpy as np


class SGD:
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Same convention as PyTorch: v = mu*v + g; p -= lr*v, or p -= lr*(g + mu*v) with Nesterov.
    """

    def __init__(self, parameters, *, momentum=0.0, nesterov=False, weight_decay=0.0):
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.parameters = parameters
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)
        self.velocity = [np.zeros_like(p) for p, _, _ in parameters] if momentum else None
        self._tmp = [np.empty_like(p) for p, _, _ in parameters]

    def step(self, lr):
        """Apply one update with learning rate lr (every array updated in place)."""
        for i, (p, g, is_weight) in enumerate(self.parameters):
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


class Adam:
    """Adam (Kingma & Ba, 2015) with bias correction.

    Speed: m and v are stored divided by (1 - beta1) and (1 - beta2); those two
    factors then fold into the scalar step size and eps, which saves two passes
    over the parameters per step. The update is the textbook one.
    """

    def __init__(self, parameters, *, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        self.parameters = parameters
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.weight_decay = float(weight_decay)
        self.m = [np.zeros_like(p) for p, _, _ in parameters]  # first moment / (1 - beta1)
        self.v = [np.zeros_like(p) for p, _, _ in parameters]  # second moment / (1 - beta2)
        self._tmp = [np.empty_like(p) for p, _, _ in parameters]
        self.t = 0

    def step(self, lr):
        """Apply one update with learning rate lr (every array updated in place)."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        # p -= lr * m_hat / (sqrt(v_hat) + eps) with m_hat = (1 - b1) m / (1 - b1^t) and
        # v_hat = (1 - b2) v / (1 - b2^t), rearranged so that only scalars carry the factors.
        root = math.sqrt((1 - b2**self.t) / (1 - b2))
        step_size = lr * (1 - b1) / (1 - b1**self.t) * root
        eps_hat = self.eps * root
        for (p, g, is_weight), m, v, tmp in zip(self.parameters, self.m, self.v, self._tmp):
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


OPTIMIZERS = {"sgd": SGD, "momentum": SGD, "nesterov": SGD, "adam": Adam}


def make_optimizer(name, parameters, *, momentum=0.9, weight_decay=0.0):
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


def constant_lr(base_lr, epoch, total_epochs, **_):
    """The same rate every epoch."""
    return base_lr


def step_lr(base_lr, epoch, total_epochs, *, step_size=10, gamma=0.1, **_):
    """Multiply the rate by gamma every step_size epochs."""
    return base_lr * gamma ** (epoch // step_size)


def cosine_lr(base_lr, epoch, total_epochs, *, min_lr_fraction=0.0, **_):
    """Half a cosine from base_lr (first epoch) down towards min_lr_fraction * base_lr."""
    progress = epoch / max(total_epochs, 1)
    low = base_lr * min_lr_fraction
    return low + (base_lr - low) * 0.5 * (1 + math.cos(math.pi * progress))


SCHEDULES = {"constant": constant_lr, "step": step_lr, "cosine": cosine_lr}
