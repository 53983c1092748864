"""Digit Lab's neural network, written from scratch in NumPy. No Streamlit here."""

from .config import ConfigError, DivergedError, EpochRecord, StopFlag, TrainConfig, TrainOutcome
from .io import ModelFileError, load_model, model_to_bytes, save_model
from .network import MLP
from .resume import advance, state_from_bytes, state_to_bytes
from .train_state import StateError, TrainState
from .training import Trainer, build_model, to_inputs

__all__ = [
    "MLP",
    "ConfigError",
    "DivergedError",
    "EpochRecord",
    "ModelFileError",
    "StateError",
    "TrainConfig",
    "StopFlag",
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
