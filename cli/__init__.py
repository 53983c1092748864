"""Digit Lab's command line, `python -m mlp` (installed as `digit-lab`): train, evaluate, predict, explain, adapt,
download.

An application over the core: it may import `mlp`, `data` and `drawn`; `mlp` imports nothing from here.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
