"""Benchmarks, run from the project folder as modules: `python -m benchmarks.speed` (see README.md here)."""
