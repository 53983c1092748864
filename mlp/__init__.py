"""Digit Lab's neural network, written from scratch in NumPy. No Streamlit here."""

from .io import ModelFileError, load_model, model_to_bytes, save_model
from .network import MLP
from .training import (
    ConfigError,
    DivergedError,
    EpochRecord,
    TrainConfig,
    Trainer,
    TrainOutcome,
    build_model,
    to_inputs,
)

__all__ = [
    "MLP",
    "ConfigError",
    "DivergedError",
    "EpochRecord",
    "ModelFileError",
    "TrainConfig",
    "TrainOutcome",
    "Trainer",
    "build_model",
    "load_model",
    "model_to_bytes",
    "save_model",
    "to_inputs",
]
