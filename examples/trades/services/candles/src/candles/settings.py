"""Settings from environment variables, checked before anything runs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from candles.errors import CandlesError
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
    trades_topic: str = "trades"
    candles_topic: str = "candles"
    candle_seconds: int = 60
    batch_size: int = 100
    follow: bool = False
    poll_seconds: float = 1.0


def load_settings(env: Mapping[str, str] | None = None, *, follow: bool = False) -> Settings:
    env = os.environ if env is None else env
    trades_topic = env_str(env, "TRADES_TOPIC", "trades")
    candles_topic = env_str(env, "CANDLES_TOPIC", "candles")
    if trades_topic == candles_topic:
        raise CandlesError(f"TRADES_TOPIC and CANDLES_TOPIC are both {trades_topic!r}")
    return Settings(
        broker=broker_address(env),
        state_dir=state_dir(env),
        trades_topic=trades_topic,
        candles_topic=candles_topic,
        candle_seconds=env_int(env, "CANDLE_SECONDS", 60, minimum=1),
        batch_size=env_int(env, "CANDLES_BATCH_SIZE", 100, minimum=1),
        follow=follow or env_flag(env, "CANDLES_FOLLOW"),
        poll_seconds=env_float(env, "CANDLES_POLL_SECONDS", 1.0, maximum=60),
    )
