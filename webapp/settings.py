"""Server-wide settings, read once from the environment (names start with DIGIT_LAB_)."""

import os
from pathlib import Path


def _int_env(name, default, low):
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return value


# How many training runs may use the CPU at once across all users.
MAX_CONCURRENT_RUNS = _int_env("DIGIT_LAB_MAX_RUNS", 2, 1)
# Uploaded model files larger than this are refused before they are read.
MAX_UPLOAD_MB = _int_env("DIGIT_LAB_MAX_UPLOAD_MB", 50, 1)
# Per-user cap on models kept in a session (oldest finished ones are dropped first).
MAX_SESSION_MODELS = _int_env("DIGIT_LAB_MAX_SESSION_MODELS", 8, 1)
# A run whose browser tab has been closed for this many seconds stops and frees its slot.
ORPHAN_GRACE_SECONDS = _int_env("DIGIT_LAB_ORPHAN_SECONDS", 30, 1)
# The shipped model offered to everyone as "Pretrained".
PRETRAINED_PATH = Path(
    os.environ.get("DIGIT_LAB_PRETRAINED", Path(__file__).resolve().parent.parent / "models" / "default.npz")
)
