"""Digit Lab's neural network, written from scratch in NumPy. No Streamlit here."""

from .io import ModelFileError, load_model, model_to_bytes, save_model
from .network import MLP
from .resume import advance, state_from_bytes, state_to_bytes
from .training import (
    ConfigError,
    DivergedError,
    EpochRecord,
    StateError,
    TrainConfig,
    Trainer,
    TrainOutcome,
    TrainState,
    build_model,
    to_inputs,
)

__all__ = [
    "MLP",
    "ConfigError",
    "DivergedError",
    "EpochRecord",
    "ModelFileError",
    "StateError",
    "TrainConfig",
    "TrainOutcome",
    "TrainState",
    "Trainer",
    "advance",
    "build_model",
    "load_model",
    "model_to_bytes",
    "save_model",
    "state_from_bytes",
    "state_to_bytes",
    "to_inputs",
]
