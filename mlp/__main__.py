"""`python -m mlp`: the command line, which lives in the top-level `cli` package (it imports `drawn`, which
imports `mlp`, so it cannot live in here). Importing `mlp` does not load this file."""

import sys

from cli import main

sys.exit(main())
