"""`python -m plugrad ...` is the `plugrad` command."""

import sys

from .cli import main

sys.exit(main())
