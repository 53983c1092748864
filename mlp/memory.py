"""A memory of someone's drawings that a reading leans on when it is close to one of them.

    memory = build_memory(model, drawings, labels, check=(x, y), rng=rng)
    model.memory = memory          # MLP.predict_proba now reads with it
    memory.describe()              # what model files and `adapt --json` record

What is kept: the network's last hidden layer for each drawing and for a few distorted copies
of it (mlp.augment), L2-normalised, with its digit: an *exemplar*. Not the drawings, and not a
prototype per digit: a writer's two sevens may differ more than a seven and a one do.

How a reading uses it (`Memory.mix`): the reading's own last-hidden features h, normalised,
are compared with every exemplar by cosine distance d = 1 - cos. An exemplar e pulls with
weight w_e = clip(1 - d / (REACH * r_e), 0, 1): fully at d = 0, not at all beyond REACH * r_e.
The memory's probabilities are the pulls summed per digit and normalised, and they are mixed in
with the strongest pull: p = (1 - max w) * p_network + max w * p_memory. So a drawing that is
nearly one of the user's reads as it; one that is far reads as the network reads it, unchanged.

The gate r_e (`calibrate`): each exemplar's distance to the nearest *check* digit of another
digit (MNIST images the network never trained on) or the nearest of the writer's own drawings of
another digit, times one scale `gate` for the whole memory.
An exemplar sitting among MNIST sevens (a flagged one) reaches less far than one alone (a dotted
zero). The gates allowed are those of GATES, smallest first, up to the last whose memory reads
the check digits right at most `tolerance` (a share) less often than the network alone; of
them, the one that reads the user's own drawings best with each left out of the memory (its
distorted copies too) is kept, the nearest to PRIOR on a tie. So MNIST digits keep the network's reading,
and a memory whose digits claim each other (a writer's 4 and 9 alike) reaches less far.

The features describe particular weights: MLP drops its memory as soon as it computes
gradients (any training step), and a model file records a digest of the weights the memory was
built over (`weights_digest`), checked on load. Nothing here prints or touches files.
"""

import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .arrays import Floats, Ints
from .augment import AugmentConfig, augment_batch

if TYPE_CHECKING:
    from .network import MLP

__all__ = ["GATES", "MAX_EXEMPLARS", "REACH", "Memory", "InvalidMemory", "Recall", "build_memory", "copies_kept",
           "weights_digest"]

#: At most this many exemplars in a memory (a model file with more is refused): 2,048 rows of a
#: 1024-wide layer are 8 MB of float32.
MAX_EXEMPLARS = 2048
#: At most this many feature numbers (exemplars times width) in a memory: 8 MB of float32.
MAX_FEATURES = 2048 * 1024
#: An exemplar pulls a reading until its distance is REACH times the exemplar's radius; within one
#: radius its pull is over a half, enough to outweigh the network alone.
REACH = 2.0
#: The gate scales tried, smallest first: the radius is this times the distance to the nearest
#: check digit of another digit.
GATES = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
#: The gate kept when the writer's drawings, each left out, read as well with others: two drawings
#: of a digit rarely tell gates apart, and the largest allowed then claimed a writer's other ways
#: of writing a digit (benchmarks.adapt, docs/real-handwriting.md).
PRIOR = 0.5
#: Norms of stored features may differ from 1 by this much (float32 rounding).
NORM_SLACK = 1e-3


class InvalidMemory(ValueError):
    """A memory that cannot be used (bad shapes, values out of range); the message says which."""


class Recall(NamedTuple):
    """How a memory read rows (Memory.recall): the probabilities with the memory mixed in (n, k), the strongest
    pull on each row (n,; 0: the network's reading, unchanged) and the digit of the exemplar pulling it hardest (n,)."""

    probs: Floats
    strength: Floats
    digit: Ints


@dataclass(frozen=True, eq=False)
class Memory:
    """Exemplars (see the module docstring): features (m, h) unit rows, labels (m,), radii (m,).

    gate: the scale the radii were calibrated with; digest: weights_digest of the network the
    features came from; drawings: how many drawings they stand for (the first `drawings` rows; the
    rest are distorted copies); claimed: share of the check digits the memory turned from right to
    wrong when it was calibrated.
    """

    features: NDArray[np.float32]
    labels: NDArray[np.int64]
    radii: NDArray[np.float32]
    gate: float
    digest: str
    drawings: int
    claimed: float = 0.0

    def __post_init__(self) -> None:
        m = len(self.labels)
        if self.features.ndim != 2 or self.features.shape[0] != m or self.radii.shape != (m,):
            raise InvalidMemory(f"memory arrays disagree: features {self.features.shape}, labels {self.labels.shape}, "
                               f"radii {self.radii.shape}")

    @property
    def count(self) -> int:
        """Number of exemplars."""
        return len(self.labels)

    @property
    def width(self) -> int:
        """Width of the hidden layer the features come from."""
        return int(self.features.shape[1])

    def pull(self, hidden: Floats) -> tuple[Floats, Floats]:
        """(weights (n, m) of each exemplar on each row, strongest weight (n,)) for last-hidden features (n, h)."""
        f = _unit_rows(np.asarray(hidden, dtype=np.float32))  # (n, h)
        distance = 1.0 - f @ self.features.T  # (n, m) cosine distance
        weights = np.clip(1.0 - distance / (REACH * self.radii), 0.0, 1.0)  # (n, m)
        return weights, weights.max(axis=1, initial=0.0)

    def mix(self, hidden: Floats, probs: Floats) -> Floats:
        """The network's probabilities (n, k) mixed with the memory's for rows with features (n, h)."""
        return self.mix_pulled(self.pull(hidden)[0], probs)

    def recall(self, hidden: Floats, probs: Floats) -> Recall:
        """The network's probabilities (n, k) mixed with the memory's; how hard, and toward which digit, it pulled."""
        weights, strongest = self.pull(hidden)
        nearest = self.labels[weights.argmax(axis=1)] if self.count else np.zeros(len(weights), np.int64)
        return Recall(self.mix_pulled(weights, probs), strongest, nearest)

    def mix_pulled(self, weights: Floats, probs: Floats) -> Floats:
        """The network's probabilities (n, k) mixed with the memory's, given each exemplar's pull (n, m)."""
        strongest = weights.max(axis=1, initial=0.0)
        votes = np.zeros((len(weights), probs.shape[1]), dtype=np.float32)  # (n, k)
        np.add.at(votes.T, self.labels, weights.T)  # sums each exemplar's pull into its digit's column
        total = votes.sum(axis=1, keepdims=True)
        recalled = np.divide(votes, total, out=np.zeros_like(votes), where=total > 0)
        lam = strongest[:, None].astype(probs.dtype)
        mixed: Floats = (1 - lam) * probs + lam * recalled.astype(probs.dtype)
        return mixed

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary (what the model file's metadata and `adapt --json` record)."""
        counts: list[int] = np.bincount(self.labels, minlength=10).tolist()
        return {"count": self.count, "drawings": self.drawings, "per_digit": counts, "width": self.width,
                "gate": self.gate, "reach": REACH, "claimed": self.claimed, "digest": self.digest,
                "radius": {"min": float(self.radii.min()), "median": float(np.median(self.radii)),
                           "max": float(self.radii.max())}}

    def check(self, model: "MLP") -> None:
        """Raise InvalidMemory if this memory cannot belong to `model` (its shapes, values, weights)."""
        hidden = model.layer_sizes[-2] if len(model.layer_sizes) > 2 else None
        if hidden is None:
            raise InvalidMemory("a network without hidden layers cannot have a memory")
        if not 1 <= self.count <= MAX_EXEMPLARS:
            raise InvalidMemory(f"a memory holds 1 to {MAX_EXEMPLARS:,} exemplars, this one {self.count:,}")
        if isinstance(self.drawings, bool) or not 1 <= self.drawings <= self.count:
            raise InvalidMemory(f"a memory of {self.count:,} exemplars stands for 1 to {self.count:,} drawings, "
                                f"this one says {self.drawings!r}")
        if self.width != hidden:
            raise InvalidMemory(f"memory features are {self.width} wide, but the last hidden layer has {hidden} units")
        if self.count * self.width > MAX_FEATURES:
            raise InvalidMemory(f"a memory holds at most {MAX_FEATURES:,} numbers, this one "
                               f"{self.count * self.width:,}")
        n_out = model.layer_sizes[-1]
        if self.labels.min() < 0 or self.labels.max() >= n_out:
            raise InvalidMemory(f"memory labels must be classes 0-{n_out - 1}")
        if not (np.isfinite(self.features).all() and np.isfinite(self.radii).all()):
            raise InvalidMemory("memory contains NaN or infinite values")
        norms = np.linalg.norm(self.features, axis=1)
        if np.abs(norms - 1).max() > NORM_SLACK:
            raise InvalidMemory("memory features must be unit rows")
        if (self.radii <= 0).any() or (self.radii > 2).any():
            raise InvalidMemory("memory radii must be cosine distances in (0, 2]")
        if not (math.isfinite(self.gate) and 0 < self.gate <= 10):
            raise InvalidMemory(f"memory gate must be in (0, 10], got {self.gate!r}")
        if self.digest != weights_digest(model):
            raise InvalidMemory("the memory was built over other weights than these (its digest differs)")


def weights_digest(model: "MLP") -> str:
    """A digest of the weights up to the last hidden layer: what a memory's features depend on."""
    h = hashlib.blake2b(digest_size=16)
    for layer in model.dense[:-1]:
        for key in ("W", "b"):
            h.update(np.ascontiguousarray(layer.params[key]).tobytes())
    return h.hexdigest()


def copies_kept(drawings: int, width: int, copies: int) -> int:
    """Distorted copies of each of `drawings` drawings a memory over a `width`-wide layer keeps: `copies`, fewer
    if MAX_EXEMPLARS or MAX_FEATURES ask."""
    most = min(MAX_EXEMPLARS, MAX_FEATURES // width)  # exemplars this layer's width allows
    return max(0, min(copies, most // max(drawings, 1) - 1))


def build_memory(model: "MLP", images: ArrayLike, labels: ArrayLike, *, check: tuple[ArrayLike, ArrayLike],
                 rng: np.random.Generator, copies: int = 8, tolerance: float = 0.0005,
                 augment: AugmentConfig | None = None) -> tuple[Memory, float]:
    """(a calibrated Memory of labelled drawings over `model`'s last hidden layer, accuracy on the check
    digits read with it). Does not attach it.

    images (n, 28, 28) uint8 drawings, labels (n,) ints; check (x (c, 28, 28) uint8, y (c,)): digits
    the network never trained on, to calibrate the gate on; rng draws the distortions; copies:
    distorted copies per drawing (fewer if MAX_EXEMPLARS asks); tolerance: how much less often (a
    share) the check digits may be read right with the memory than without (module docstring).
    """
    from .training import to_inputs

    if len(model.layer_sizes) < 3:
        raise InvalidMemory("a network without hidden layers cannot have a memory")
    pixels = np.asarray(images)
    targets = np.asarray(labels, dtype=np.int64)
    n = len(targets)
    copies = copies_kept(n, model.layer_sizes[-2], copies)
    x = to_inputs(pixels, model.dtype)
    if copies:
        distorted = augment_batch(np.repeat(pixels, copies, axis=0), rng, augment or AugmentConfig())
        x = np.concatenate([x, distorted.astype(model.dtype, copy=False)])  # (n * (1 + copies), 784)
    ex_labels = np.concatenate([targets, np.repeat(targets, copies)])
    sources = np.concatenate([np.arange(n), np.repeat(np.arange(n), copies)])  # the drawing each row comes from
    hidden = hidden_features(model, x)
    features = _unit_rows(hidden.astype(np.float32))  # (m, h)
    check_y = np.asarray(check[1], dtype=np.int64)
    check_hidden = hidden_features(model, to_inputs(np.asarray(check[0]), model.dtype))
    check_probs = _softmax_of(model, check_hidden)
    gate, radii, claimed = calibrate(features, ex_labels, sources, _softmax_of(model, hidden[:n]),
                                     check_hidden, check_probs, check_y, tolerance)
    memory = Memory(features, ex_labels, radii, gate, weights_digest(model), n, claimed)
    accuracy = float((memory.mix(check_hidden, check_probs).argmax(axis=1) == check_y).mean()) if len(check_y) else 0.0
    return memory, accuracy


def calibrate(features: NDArray[np.float32], labels: NDArray[np.int64], sources: Ints, drawing_probs: Floats,
              check_hidden: Floats, check_probs: Floats, check_y: Ints,
              tolerance: float) -> tuple[float, NDArray[np.float32], float]:
    """(gate, radii, share of check digits turned wrong), as the module docstring says.

    features (m, h) unit rows, labels (m,), sources (m,): the drawing (0..n-1) each row comes from,
    the first n rows being the drawings themselves; drawing_probs (n, k): the network's reading of
    them; check_hidden (c, h), check_probs (c, k), check_y (c,): the check digits.
    """
    f = _unit_rows(np.asarray(check_hidden, dtype=np.float32))
    distance = 1.0 - f @ features.T  # (c, m)
    other = check_y[:, None] != labels[None, :]
    nearest_other = np.where(other, distance, np.inf).min(axis=0, initial=np.inf)  # (m,)
    # The writer's own drawings of other digits too: their hand (slant, pen, size) is closer to the
    # exemplars than any MNIST digit, so it is among them that a memory would claim wrongly.
    own = 1.0 - features @ features.T  # (m, m)
    nearest_other = np.minimum(nearest_other, np.where(labels[:, None] != labels[None, :], own, np.inf).min(
        axis=0, initial=np.inf))
    # An exemplar with no check digit of another digit near it (no check digits at all) keeps a radius a
    # unit row at right angles would have.
    nearest_other = np.where(np.isfinite(nearest_other), nearest_other, 1.0).clip(1e-4, 2.0).astype(np.float32)
    right = check_probs.argmax(axis=1) == check_y
    allowed = math.floor(tolerance * len(check_y) + 1e-9)
    n = len(drawing_probs)
    left_out = sources[None, :] == np.arange(n)[:, None]  # (n, m): a drawing and its copies
    best: tuple[int, float, NDArray[np.float32], int] | None = None  # (read right, gate, radii, turned wrong)
    for gate in GATES:
        radii = (gate * nearest_other).clip(1e-4, 2.0).astype(np.float32)
        memory = Memory(features, labels, radii, gate, "", n)
        read = memory.mix(f, check_probs).argmax(axis=1) == check_y
        if best is not None and int(read.sum()) < int(right.sum()) - allowed:
            break  # the smallest gate is kept whatever it costs
        weights = memory.pull(features[:n])[0]
        weights[left_out] = 0.0
        right_own = int((memory.mix_pulled(weights, drawing_probs).argmax(axis=1) == labels[:n]).sum())
        if best is None or right_own > best[0] or (right_own == best[0] and abs(gate - PRIOR) < abs(best[1] - PRIOR)):
            best = (right_own, gate, radii, int((right & ~read).sum()))
    assert best is not None
    return best[1], best[2], best[3] / max(len(check_y), 1)


def hidden_features(model: "MLP", x: Floats, batch: int = 4096) -> Floats:
    """The last hidden layer's activations (n, h) for inputs (n, n_in), in batches."""
    x = model.cast(x)
    out = np.empty((len(x), model.layer_sizes[-2]), dtype=model.dtype)
    for start in range(0, len(x), batch):
        h = x[start:start + batch]
        for layer in model.layers[:-1]:  # every layer but the output Dense
            h = layer.forward(h, False)
        out[start:start + len(h)] = h
    return out


def _softmax_of(model: "MLP", hidden: Floats) -> Floats:
    from .losses import softmax

    probs: Floats = softmax(model.dense[-1].forward(hidden, False))
    return probs


def _unit_rows(f: NDArray[np.float32]) -> NDArray[np.float32]:
    """Rows scaled to length 1 (an all-zero row stays zero: at distance 1 from everything)."""
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    unit: NDArray[np.float32] = f / np.maximum(norms, np.float32(1e-12))
    return unit
