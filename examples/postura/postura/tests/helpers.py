"""Helpers shared by the tests: how to find and run the installed console scripts."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

BIN_DIR = Path(sys.executable).parent


def script(name: str) -> str:
    """Path of an installed console script (postura-batch, postura-api)."""
    candidate = BIN_DIR / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; run `pip install .` in the project first")
    return found


def env_with_bin() -> dict[str, str]:
    """The environment with the interpreter's bin directory first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    return env
