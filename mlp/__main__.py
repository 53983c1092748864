"""`python -m mlp`: see mlp/cli.py."""

import sys

from .cli import main

sys.exit(main())
