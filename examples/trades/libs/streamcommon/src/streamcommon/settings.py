"""Settings both services read from the environment, and typed variables.

Every function takes the environment as a mapping (``os.environ`` or a dict in
tests). A bad value raises ServiceError naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from streamcommon.errors import ServiceError

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


def broker_address(env: Mapping[str, str]) -> Address:
    """BROKER_ADDRESS, else KAFKA_BROKER_ADDRESS (the older deployment name), else the default."""
    for name in ("BROKER_ADDRESS", "KAFKA_BROKER_ADDRESS"):
        text = env.get(name, "").strip()
        if text:
            try:
                return parse_address(text)
            except ValueError as exc:
                raise ServiceError(
                    f"{name} must be HOST:PORT, got {text!r} ({exc}); set BROKER_ADDRESS"
                ) from None
    return parse_address(DEFAULT_BROKER)


def state_dir(env: Mapping[str, str]) -> Path:
    """STATE_DIR, or /app/state when it is unset or empty."""
    return Path(env_str(env, "STATE_DIR", DEFAULT_STATE_DIR))


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    """The variable without surrounding blanks; ``default`` when it is unset or blank."""
    return env.get(name, "").strip() or default


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    """A whole number of at least ``minimum``; ``default`` when unset or blank."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ServiceError(f"{name} must be a whole number, got {text!r}") from None
    if value < minimum:
        raise ServiceError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(
    env: Mapping[str, str], name: str, default: float, maximum: float | None = None
) -> float:
    """A number greater than 0 (and at most ``maximum`` if given); ``default`` when unset."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ServiceError(f"{name} must be a number, got {text!r}") from None
    if maximum is None:
        if not value > 0:
            raise ServiceError(f"{name} must be greater than 0, got {text}")
    elif not 0 < value <= maximum:
        raise ServiceError(f"{name} must be greater than 0 and at most {maximum:g}, got {text}")
    return value


def env_flag(env: Mapping[str, str], name: str) -> bool:
    """1/true/yes/on or 0/false/no/off (any case); unset or blank is off."""
    text = env.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ServiceError(f"{name} must be 1 or 0, got {text!r}")
