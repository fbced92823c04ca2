"""Settings from environment variables, checked before anything runs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from trades.errors import TradesError

DEFAULT_BROKER = "127.0.0.1:6379"
DEFAULT_STATE_DIR = "/app/state"


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_address(text: str) -> Address:
    """Parse ``HOST:PORT`` (or ``[IPV6]:PORT``) into an Address.

    Raises ValueError with the reason when the text is not of that form.
    """
    text = text.strip()
    if "://" in text:
        raise ValueError("no scheme: write HOST:PORT, without redis:// or the like")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError("an IPv6 address is written [HOST]:PORT")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError("no port")
        if ":" in host:
            raise ValueError("an IPv6 address is written [HOST]:PORT")
    if not host:
        raise ValueError("no host")
    if "/" in host or " " in host:
        raise ValueError(f"{host!r} is not a host name")
    if not port_text.isdigit():
        raise ValueError(f"port {port_text!r} is not a number")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 1-65535")
    return Address(host, port)


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


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise TradesError(f"{name} must be a whole number, got {text!r}") from None
    if value < minimum:
        raise TradesError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise TradesError(f"{name} must be a number, got {text!r}") from None
    if not value > 0:
        raise TradesError(f"{name} must be greater than 0, got {text}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    text = env.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise TradesError(f"{name} must be 1 or 0, got {text!r}")


def broker_address(env: Mapping[str, str]) -> Address:
    """BROKER_ADDRESS, else KAFKA_BROKER_ADDRESS (the older deployment name), else the default."""
    for name in ("BROKER_ADDRESS", "KAFKA_BROKER_ADDRESS"):
        text = env.get(name, "").strip()
        if text:
            try:
                return parse_address(text)
            except ValueError as exc:
                raise TradesError(
                    f"{name} must be HOST:PORT, got {text!r} ({exc}); set BROKER_ADDRESS"
                ) from None
    return parse_address(DEFAULT_BROKER)


def load_settings(env: Mapping[str, str] | None = None, *, follow: bool = False) -> Settings:
    env = os.environ if env is None else env
    topic = env.get("TRADES_TOPIC", "").strip() or "trades"
    source_text = env.get("TRADES_SOURCE", "").strip()
    return Settings(
        broker=broker_address(env),
        state_dir=Path(env.get("STATE_DIR", "").strip() or DEFAULT_STATE_DIR),
        topic=topic,
        source=Path(source_text) if source_text else None,
        count=_int(env, "TRADES_COUNT", 100, minimum=0),
        seed=_int(env, "TRADES_SEED", 42, minimum=0),
        batch_size=_int(env, "TRADES_BATCH_SIZE", 50, minimum=1),
        follow=follow or _flag(env, "TRADES_FOLLOW"),
        poll_seconds=_float(env, "TRADES_POLL_SECONDS", 1.0),
    )
