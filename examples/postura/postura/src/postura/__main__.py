"""``python -m postura`` runs the batch CLI (same as postura-batch)."""

import sys

from .batch import main

sys.exit(main())
