"""``python -m rsdemo``: see ``rsdemo.cli``."""

import sys

from .cli import main

sys.exit(main())
