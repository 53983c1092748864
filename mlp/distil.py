"""Learning from other networks' readings (knowledge distillation, Hinton et al. 2015).

A network trained with teachers learns each labelled input toward a mix of its label and the
teachers' averaged reading of that same (freshly distorted) input:
target = (1 - weight) * one-hot(label) + weight * mean(teachers' softmax). The average of several
networks reads better than each of them, and their reading says which wrong digits an input
resembles, which a label does not. Inputs that are no class (NOT_A_CLASS) keep their uniform
target. Teachers read with their network alone (no memory) and without dropout.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .arrays import Floats, Ints
from .config import ConfigError
from .losses import NOT_A_CLASS, softmax
from .network import MLP

#: The teachers' share of each target unless told otherwise.
TEACHER_WEIGHT = 0.5
#: At most this many teachers (each reads every batch: training slows by about a third of an epoch per teacher).
MAX_TEACHERS = 8


@dataclass(frozen=True)
class Teachers:
    """The networks a run learns from, and the share of each target their reading makes."""

    models: Sequence[MLP]
    weight: float = TEACHER_WEIGHT
    names: Sequence[str] = ()  # for messages: each model's file, say (default "teacher 1", "teacher 2"...)

    def check(self, student: MLP) -> "Teachers":
        """Self, or ConfigError naming why these teachers cannot teach `student`."""
        if not self.models:
            raise ConfigError("distillation needs at least one teacher")
        if not 0 < self.weight <= 1:
            raise ConfigError(f"the teachers' weight must be in (0, 1], got {self.weight}")
        for i, t in enumerate(self.models):
            if (t.layer_sizes[0], t.layer_sizes[-1]) != (student.layer_sizes[0], student.layer_sizes[-1]):
                name = self.names[i] if i < len(self.names) else f"teacher {i + 1}"
                raise ConfigError(f"{name} reads {t.layer_sizes[0]} inputs into {t.layer_sizes[-1]} classes, "
                                  f"the network it teaches {student.layer_sizes[0]} into {student.layer_sizes[-1]}")
        return self

    def targets(self, x: Floats, labels: Ints) -> Floats:
        """(n, k) targets for model inputs x and their labels (see the module docstring)."""
        reading = np.zeros((len(x), self.models[0].layer_sizes[-1]), dtype=x.dtype)
        for t in self.models:
            reading += softmax(t.forward(t.cast(x)))
        k = reading.shape[1]
        targets = reading * x.dtype.type(self.weight / len(self.models))
        inside = np.flatnonzero(labels != NOT_A_CLASS)
        targets.ravel()[inside * k + labels[inside]] += x.dtype.type(1 - self.weight)
        targets[labels == NOT_A_CLASS] = x.dtype.type(1 / k)
        return targets
