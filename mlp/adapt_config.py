"""What teaching a model someone's handwriting is asked for (AdaptConfig) and what it reports (AdaptResult,
AdaptOutcome). mlp.adapt does the teaching."""

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from .adapt_input import AdaptError
from .augment import AugmentConfig
from .network import MLP

__all__ = ["AdaptConfig", "AdaptOutcome", "AdaptResult"]

@dataclass(frozen=True)
class AdaptConfig:
    """How a model is taught. The defaults keep 20 drawings within 10 s for 784-1024-1024-10 on 2 cores.

    steps: Adam steps on all the drawings; batch_size: images per step, of which
    round(user_share * batch_size) are the user's drawings and the rest replayed MNIST training
    images; lr: Adam's rate at the start of a half-cosine down to 0 (in each phase);
    holdout_fraction: share of each digit's drawings held out of the first `probe_steps` steps
    (0: none held out, no probe, no held-out figures); augment: distortions applied to every
    batch; blend: share of the change teaching made that the taught weights keep,
    base + blend * (taught - base) (weight interpolation as in WiSE-FT, Wortsman et al. 2022; 1,
    the default, keeps all of it); forget_tolerance: how far the reading of the check digits may
    fall (a share, 0.002 = 0.2 point) before teaching keeps less of what it changed (BACK_OFF).
    fine_tune: train the weights as above (off: they stay the base's); memory: keep a memory of
    the drawings (mlp.memory) over the taught weights; memory_copies: distorted copies of each
    drawing it also keeps; memory_tolerance: how much less often (a share) the memory may read
    the check digits right than the taught network alone does.
    """

    steps: int = 160
    probe_steps: int = 40
    batch_size: int = 128
    user_share: float = 0.125
    lr: float = 3e-4
    holdout_fraction: float = 0.25
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    blend: float = 1.0
    forget_tolerance: float = 0.002  # 0.001 until 2026-12-07: docs/real-handwriting.md, the no-dropout model
    fine_tune: bool = True
    memory: bool = True
    memory_copies: int = 8
    memory_tolerance: float = 0.0005

    def validate(self) -> "AdaptConfig":
        """Raise AdaptError naming the first setting that makes no sense; returns self."""
        if not (isinstance(self.steps, int) and self.steps >= 2):
            raise AdaptError(f"steps must be an integer >= 2, got {self.steps!r}")
        if isinstance(self.probe_steps, bool) or not (isinstance(self.probe_steps, int) and self.probe_steps >= 1):
            raise AdaptError(f"probe_steps must be an integer >= 1, got {self.probe_steps!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 2):
            raise AdaptError(f"batch_size must be an integer >= 2, got {self.batch_size!r}")
        if not 0 < self.user_share < 1:
            raise AdaptError(f"user_share must be in (0, 1), got {self.user_share!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise AdaptError(f"lr must be a positive number, got {self.lr!r}")
        if not 0 <= self.holdout_fraction < 1:
            raise AdaptError(f"holdout_fraction must be in [0, 1), got {self.holdout_fraction!r}")
        if isinstance(self.blend, bool) or not (isinstance(self.blend, (int, float)) and 0 < self.blend <= 1):
            raise AdaptError(f"blend must be in (0, 1], got {self.blend!r}")
        if isinstance(self.forget_tolerance, bool) or not (
                isinstance(self.forget_tolerance, (int, float)) and 0 <= self.forget_tolerance <= 1):
            raise AdaptError(f"forget_tolerance must be in [0, 1], got {self.forget_tolerance!r}")
        for name in ("fine_tune", "memory"):
            if not isinstance(getattr(self, name), bool):
                raise AdaptError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not (self.fine_tune or self.memory):
            raise AdaptError("nothing to teach: fine_tune and memory are both off")
        if isinstance(self.memory_copies, bool) or not (isinstance(self.memory_copies, int)
                                                         and 0 <= self.memory_copies <= 64):
            raise AdaptError(f"memory_copies must be an integer in 0..64, got {self.memory_copies!r}")
        if isinstance(self.memory_tolerance, bool) or not (
                isinstance(self.memory_tolerance, (int, float)) and 0 <= self.memory_tolerance <= 0.01):
            raise AdaptError(f"memory_tolerance must be in [0, 0.01], got {self.memory_tolerance!r}")
        self.augment.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every setting."""
        return asdict(self)


class AdaptOutcome(StrEnum):
    """How teaching ended. A StrEnum, so it still compares and prints as its value ("completed")."""

    COMPLETED = "completed"
    STOPPED = "stopped"  # `stop` was set: no taught model


@dataclass
class AdaptResult:
    """What adapt did. model is None when stopped; accuracies are None when they could not be measured.

    holdout_before/after: accuracy on the held-out drawings (n_holdout of them) of the original
    model and of the model after the probe steps, before it saw them (keeping the share of what it
    changed that the taught model keeps).
    steps: the steps run, probe steps included.
    mnist_before/after: MNIST test accuracy of the original and of the taught model (None without
    a test set). blend: the share of what teaching changed that the model keeps (config.blend, or
    less if the check digits asked for it); check_before/after: accuracy on the n_check check
    digits of the original and of the taught model (None without them).
    skipped: indices (into the caller's arrays) of empty drawings that were left out.
    memory: the taught model's memory (Memory.describe()), None without one.
    """

    model: MLP | None
    outcome: AdaptOutcome
    seconds: float
    steps: int
    n_drawings: int
    per_digit: list[int]
    n_holdout: int
    holdout_before: float | None
    holdout_after: float | None
    mnist_before: float | None
    mnist_after: float | None
    skipped: list[int]
    seed: int
    blend: float = 1.0
    n_check: int = 0
    check_before: float | None = None
    check_after: float | None = None
    memory: dict[str, Any] | None = None

    def figures(self) -> dict[str, Any]:
        """The measured figures as a JSON-ready dict (what the model's meta["adapted"] records)."""
        return {
            "n_drawings": self.n_drawings,
            "per_digit": self.per_digit,
            "seconds": round(self.seconds, 3),
            "steps": self.steps,
            "holdout": {"n": self.n_holdout, "before": self.holdout_before, "after": self.holdout_after},
            "mnist_test_accuracy": {"before": self.mnist_before, "after": self.mnist_after},
            "blend": self.blend,
            "check": {"n": self.n_check, "before": self.check_before, "after": self.check_after},
            "skipped": self.skipped,
            "seed": self.seed,
            "memory": None if self.memory is None else {k: v for k, v in self.memory.items() if k != "digest"},
        }
