"""Inside the network: activations, saliency, a 2-D map of the test set, and model comparison.

Pure NumPy, no Streamlit. Everything here runs the network in inference mode through
`Dense.forward(training=False)`, which writes into fresh arrays and never touches the
layers' training scratch buffers, so many threads (the app's sessions) can share one model.
Dropout is the identity at inference and is skipped.

Shapes: n inputs, d = 784 input pixels, h_i units in hidden layer i, k classes.
"""

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .activations import ACTIVATIONS, DERIVATIVES
from .arrays import Floats, Ints
from .losses import softmax
from .metrics import confusion_matrix
from .network import MLP

__all__ = [
    "Trace",
    "trace",
    "saliency",
    "Deletion",
    "deletion_drop",
    "Embedding",
    "fit_embedding",
    "top_exciting",
    "Comparison",
    "compare",
    "input_weights",
]


class Trace(NamedTuple):
    """One inference pass: every hidden layer's output, the logits and the probabilities."""

    hidden: list[Floats]  # one (n, h_i) array per hidden layer, after the activation
    logits: Floats  # (n, k)
    probs: Floats  # (n, k)


def trace(model: MLP, x: ArrayLike) -> Trace:
    """Run x (n, d), as fed to the model (`to_model_input`, `to_inputs`), through it once.

    Returns a `Trace`: hidden (list of (n, h_i), post-activation), logits (n, k), probs (n, k),
    all in the model's dtype. The same numbers as `model.predict_proba(x)` for a model without a
    memory (mlp.memory); with one, these are the network's own, before the memory is mixed in.
    """
    h = model.cast(x)  # (n, d)
    act = ACTIVATIONS[model.activation]
    hidden: list[Floats] = []
    for layer in model.dense[:-1]:
        h = layer.forward(h, training=False)  # a fresh (n, h_i) array...
        act(h, out=h)  # ...so the activation may overwrite it
        hidden.append(h)
    logits = model.dense[-1].forward(h, training=False)  # (n, k)
    return Trace(hidden, logits, softmax(logits))


def _targets(target: ArrayLike | None, n: int, k: int, probs: Floats) -> Ints:
    """target (None = each row's most probable class, an int, or (n,) ints) as an (n,) int64 array."""
    if target is None:
        predicted: Ints = probs.argmax(axis=1)
        return predicted
    t = np.asarray(target)
    if not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"target must be an integer class or an array of them, got {target!r}")
    t = np.broadcast_to(t.astype(np.int64), (n,)) if t.ndim == 0 else t.astype(np.int64)
    if t.shape != (n,):
        raise ValueError(f"expected one target per input ({n}), got shape {t.shape}")
    if n and (t.min() < 0 or t.max() >= k):
        raise ValueError(f"target classes must be in [0, {k}), got {t.min()}..{t.max()}")
    return t


def saliency(model: MLP, x: ArrayLike, target: ArrayLike | None = None, *, of: str = "log_prob",
             traced: Trace | None = None) -> Floats:
    """Gradient x input of the target class's log-probability (default) or logit: (n, d).

    x: (n, d) as fed to the model; target: an int, (n,) ints, or None for each row's
    predicted class. `traced` reuses `trace(model, x)` if the caller already has it.

    Why the log-probability: its gradient is that of logit_t minus the probability-weighted
    logits of the other classes, so a pixel counts only as far as it favours the target *over
    the competing digits*. That is what moves the probability a user sees (and what the
    deletion test measures), and for a digit that is not predicted ("why not 9?") it reads as
    "what makes it a 9 rather than the 7 it sees". The logit's gradient (``of="logit"``) also
    credits ink that raises every class alike. Positive values are pixels whose ink supports
    the target; blanking such a pixel (setting it to 0) lowers the target's score by about
    that much (first order).

    To explain two digits of one drawing, trace it once and call this once per digit with
    ``traced=``: for n = 1 the products are matrix-vector products, which OpenBLAS runs
    several times faster than the small matrix products of n = 2.
    """
    if of not in ("log_prob", "logit"):
        raise ValueError(f"of must be 'log_prob' or 'logit', got {of!r}")
    x = model.cast(x)  # (n, d)
    t = traced if traced is not None else trace(model, x)
    n, k = t.probs.shape
    targets = _targets(target, n, k, t.probs)
    rows = np.arange(n)
    if of == "logit":
        delta = np.zeros((n, k), dtype=x.dtype)
        delta[rows, targets] = 1
    else:
        # d log p_t / d logits = onehot_t - p. The target's entry 1 - p_t is summed from the
        # other probabilities: 1 - p_t itself rounds to 0 in float32 once p_t > 1 - 6e-8.
        delta = np.negative(t.probs)  # (n, k)
        delta[rows, targets] = 0
        delta[rows, targets] = -delta.sum(axis=1)
    dense = model.dense
    backward = DERIVATIVES[model.activation]
    for i in range(len(dense) - 1, 0, -1):
        delta = delta @ dense[i].params["W"].T  # (n, h_{i-1}): gradient at hidden layer i-1's output
        backward(t.hidden[i - 1], delta)  # in place: through the activation, to its input
    grad = delta @ dense[0].params["W"].T  # (n, d)
    grad *= x
    return grad


def input_weights(model: MLP, layer: int, unit: int, x: ArrayLike | None = None,
                  traced: Trace | None = None) -> Floats:
    """What hidden `unit` of `layer` (0-based) weighs each input pixel by: (d,).

    For the first layer, the unit's incoming weights. A deeper unit has no weights on the pixels
    of its own, so this is the gradient of its pre-activation with respect to the input at x (1, d)
    (for ReLU, its incoming weights composed through the units that x switches on): the template
    that unit matches against this drawing.
    """
    dense = model.dense
    if not 0 <= layer < len(dense) - 1:
        raise ValueError(f"layer must be a hidden layer in [0, {len(dense) - 1}), got {layer}")
    if not 0 <= unit < dense[layer].params["W"].shape[1]:
        raise ValueError(f"unit must be in [0, {dense[layer].params['W'].shape[1]}), got {unit}")
    if layer == 0:
        return dense[0].params["W"][:, unit].copy()
    if x is None:
        raise ValueError("a deeper unit's input weights depend on the input: pass x")
    t = traced if traced is not None else trace(model, model.cast(x))
    backward = DERIVATIVES[model.activation]
    delta = dense[layer].params["W"][:, unit][None, :].copy()  # (1, h_{layer-1})
    for i in range(layer - 1, 0, -1):
        backward(t.hidden[i][:1], delta)
        delta = delta @ dense[i].params["W"].T
    backward(t.hidden[0][:1], delta)
    weights: Floats = (delta @ dense[0].params["W"].T)[0]
    return weights


class Deletion(NamedTuple):
    """Probability drops of the target class when ink pixels are blanked (see `deletion_drop`)."""

    salient: NDArray[np.float64]  # (n,) p_target(x) - p_target(x with the most salient ink blanked)
    random: NDArray[np.float64]  # (n,) the same with as many ink pixels chosen at random
    blanked: NDArray[np.int64]  # (n,) int, pixels blanked in each image
    targets: Ints  # (n,) int, the class whose probability was measured


def deletion_drop(model: MLP, x: ArrayLike, target: ArrayLike | None = None, fraction: float = 0.1,
                  rng: np.random.Generator | None = None, *, of: str = "log_prob", batch_size: int = 1000) -> Deletion:
    """The deletion test of a saliency map's faithfulness, vectorised over n images.

    x: (n, d) as fed to the model; ink = pixels > 0. In each image, round(fraction x ink) pixels
    (at least one, where there is ink) are set to 0: first the ones with the largest
    gradient x input for the target (`saliency`), then as many ink pixels drawn at random
    from `rng` (a numpy Generator). target: int, (n,) ints, or None (the predicted digit).
    Returns a `Deletion` of (n,) arrays; a faithful map has salient drops well above random.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(0) if rng is None else rng
    x = model.cast(x)
    parts = [_deletion_batch(model, x[s:s + batch_size], target if target is None or np.ndim(target) == 0 else
                             np.asarray(target)[s:s + batch_size], fraction, rng, of)
             for s in range(0, len(x), batch_size)]
    return Deletion(*(np.concatenate(a) for a in zip(*parts)))


def _deletion_batch(model: MLP, x: Floats, target: ArrayLike | None, fraction: float, rng: np.random.Generator,
                    of: str) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], Ints]:
    t = trace(model, x)
    n, d = x.shape
    targets = _targets(target, n, t.probs.shape[1], t.probs)
    rows = np.arange(n)
    ink = x > 0  # (n, d)
    n_ink = ink.sum(axis=1)
    blanked = np.where(n_ink > 0, np.maximum(np.rint(fraction * n_ink), 1), 0).astype(np.int64)
    sal = saliency(model, x, targets, of=of, traced=t)
    # Rank each row's pixels: ink first (most salient, or random order), then the background.
    salient_key = np.where(ink, -sal, np.inf)
    random_key = np.where(ink, rng.random((n, d)), np.inf)
    before = t.probs[rows, targets]
    drops: list[NDArray[np.float64]] = []
    for key in (salient_key, random_key):
        order = np.argsort(key, axis=1, kind="stable")  # (n, d)
        chosen = np.zeros((n, d), dtype=bool)
        np.put_along_axis(chosen, order, np.arange(d) < blanked[:, None], axis=1)
        after = trace(model, np.where(chosen, 0, x)).probs[rows, targets]
        drops.append((before - after).astype(np.float64))
    return drops[0], drops[1], blanked, targets


@dataclass(frozen=True)
class Embedding:
    """A 2-D PCA map of the last hidden layer: coords[i] is the i-th input it was fitted on."""

    mean: Floats  # (h,) mean activation
    components: Floats  # (h, 2) unit principal directions, largest variance first
    coords: Floats  # (n, 2) the fitted inputs on the map
    explained_variance_ratio: Floats  # (2,) share of the total variance each axis holds

    def project(self, hidden_last: ArrayLike) -> Floats:
        """(m, h) last-hidden-layer activations (`trace(...).hidden[-1]`) -> (m, 2) map coordinates."""
        return (np.asarray(hidden_last, dtype=self.mean.dtype) - self.mean) @ self.components


def fit_embedding(model: MLP, x_test: NDArray[Any], max_points: int | None = None,
                  batch_size: int = 2000) -> Embedding:
    """PCA (by SVD) of the last hidden layer's activations over x_test (n, d) -> `Embedding`.

    The first max_points inputs are used (all if None), so coords[i] belongs to x_test[i].
    Each component's sign is fixed so that its largest-|loading| unit loads positively: the
    same model and data always give the same map.
    """
    if len(model.layer_sizes) < 3:
        raise ValueError("the model has no hidden layer to map")
    x = x_test if max_points is None else x_test[:max_points]
    if len(x) < 2:
        raise ValueError(f"need at least 2 inputs to fit a map, got {len(x)}")
    h = np.concatenate([trace(model, x[s:s + batch_size]).hidden[-1] for s in range(0, len(x), batch_size)])
    mean = h.mean(axis=0)  # (h,)
    h -= mean  # (n, h), centred
    # The right singular vectors of the centred data are the eigenvectors of its h x h scatter
    # matrix, whose singular values are the squares: decomposing that (1024 x 1024) is several
    # times faster than the SVD of the (10,000 x 1024) data, and is done in float64.
    scatter = np.asarray(h.T @ h, dtype=np.float64)  # (h, h)
    _, s2, vt = np.linalg.svd(scatter, hermitian=True)
    components = vt[:2].T  # (h, 2)
    flip = np.sign(components[np.abs(components).argmax(axis=0), [0, 1]])
    components = (components * np.where(flip == 0, 1, flip)).astype(h.dtype)
    total = s2.sum()
    ratio = s2[:2] / total if total > 0 else np.zeros(2)
    return Embedding(mean, components, h @ components, ratio)


def top_exciting(activations: ArrayLike, unit: int, k: int = 8) -> Ints:
    """Indices of the k rows of activations (n, units) where `unit` is largest, largest first.

    Ties keep the lower index first (a stable order).
    """
    activations = np.asarray(activations)
    if not 0 <= unit < activations.shape[1]:
        raise ValueError(f"unit must be in [0, {activations.shape[1]}), got {unit}")
    return np.argsort(-activations[:, unit], kind="stable")[:k]


@dataclass(frozen=True)
class Comparison:
    """Model B against model A on one labelled set (see `compare`)."""

    diff_confusion: Ints  # (k, k) int, B's confusion matrix minus A's (rows: true)
    fixed: Ints  # indices A got wrong and B right, B's most confident first
    broke: Ints  # indices A got right and B wrong, B's most confident (wrong) answer first
    accuracy_a: float
    accuracy_b: float


def compare(probs_a: ArrayLike, probs_b: ArrayLike, y: ArrayLike) -> Comparison:
    """Compare two models' (n, k) probabilities on the same (n,) labels -> `Comparison`."""
    probs_a, probs_b = np.asarray(probs_a), np.asarray(probs_b)
    y = np.asarray(y, dtype=np.int64)
    if probs_a.shape != probs_b.shape or probs_a.shape[:1] != y.shape:
        raise ValueError(f"need two (n, k) arrays and n labels, got {probs_a.shape}, {probs_b.shape}, {y.shape}")
    k = probs_a.shape[1]
    pred_a, pred_b = probs_a.argmax(axis=1), probs_b.argmax(axis=1)
    right_a, right_b = pred_a == y, pred_b == y
    confidence_b = probs_b.max(axis=1)

    def most_confident_first(mask: NDArray[np.bool_]) -> Ints:
        idx = np.flatnonzero(mask)
        return idx[np.argsort(-confidence_b[idx], kind="stable")]

    return Comparison(
        diff_confusion=confusion_matrix(y, pred_b, k) - confusion_matrix(y, pred_a, k),
        fixed=most_confident_first(~right_a & right_b),
        broke=most_confident_first(right_a & ~right_b),
        accuracy_a=float(right_a.mean()) if len(y) else float("nan"),
        accuracy_b=float(right_b.mean()) if len(y) else float("nan"),
    )
