"""Settings from environment variables, checked before anything runs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from streamcommon.settings import (
    Address,
    broker_address,
    env_flag,
    env_float,
    env_int,
    env_str,
    state_dir,
)


@dataclass(frozen=True)
class Settings:
    broker: Address
    state_dir: Path
    topic: str = "trades"
    source: Path | None = None
    count: int = 100
    seed: int = 42
    batch_size: int = 50
    follow: bool = False
    poll_seconds: float = 1.0


def load_settings(env: Mapping[str, str] | None = None, *, follow: bool = False) -> Settings:
    env = os.environ if env is None else env
    source_text = env_str(env, "TRADES_SOURCE", "")
    return Settings(
        broker=broker_address(env),
        state_dir=state_dir(env),
        topic=env_str(env, "TRADES_TOPIC", "trades"),
        source=Path(source_text) if source_text else None,
        count=env_int(env, "TRADES_COUNT", 100, minimum=0),
        seed=env_int(env, "TRADES_SEED", 42, minimum=0),
        batch_size=env_int(env, "TRADES_BATCH_SIZE", 50, minimum=1),
        follow=follow or env_flag(env, "TRADES_FOLLOW"),
        poll_seconds=env_float(env, "TRADES_POLL_SECONDS", 1.0),
    )
