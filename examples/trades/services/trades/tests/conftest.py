"""Fixtures: a real redis-server on 127.0.0.1 and a clean environment for main(),
from streamcommon.testing.

Without redis-server installed the broker tests are skipped with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streamcommon.testing import (  # noqa: F401  (fixtures)
    broker,
    closed_address,
    env,
    redis_server,
    state_dir,
)


@pytest.fixture
def env_names() -> tuple[str, ...]:
    """The trades service's own variables, cleared by ``env`` for each test."""
    return (
        "TRADES_SOURCE",
        "TRADES_COUNT",
        "TRADES_TOPIC",
        "TRADES_SEED",
        "TRADES_BATCH_SIZE",
        "TRADES_FOLLOW",
        "TRADES_POLL_SECONDS",
    )


@pytest.fixture
def main_py() -> Path:
    return Path(__file__).resolve().parent.parent / "src" / "trades" / "main.py"
