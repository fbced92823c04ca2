"""A service's main.py run by path, as its image runs it."""

from __future__ import annotations

import os
import sys


def fix_script_path(main_file: str) -> None:
    """Make ``python .../src/NAME/main.py`` import the package NAME, not the files beside it.

    Run by path, Python puts the script's folder first on sys.path, where a
    module of the package could hide a top-level one of the same name. Take it
    off, so that the package is imported as installed, or else from the source
    tree two folders up (appended last).
    """
    here = os.path.dirname(os.path.realpath(main_file))
    if sys.path and sys.path[0] and os.path.realpath(sys.path[0]) == here:
        del sys.path[0]
    sys.path.append(os.path.dirname(here))
