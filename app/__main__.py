"""``python -m app``: the command line (see app/cli.py)."""

import sys

from .cli import main

sys.exit(main())
