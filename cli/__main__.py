"""`python -m cli`, the same as `python -m mlp`."""

import sys

from .main import main

sys.exit(main())
