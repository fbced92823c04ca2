"""Service settings read from the environment.

Every HuleEdu service reads the same variables:

* ``SERVICE_HOST``            address to bind (default ``0.0.0.0``)
* ``SERVICE_HTTP_PORT``       HTTP port (default: the service's own port)
* ``SERVICE_PROMETHEUS_PORT`` metrics port (default: HTTP port + 2092)
* ``SERVICE_LOG_LEVEL``       DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

PROMETHEUS_PORT_OFFSET = 2092
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A setting in the environment is missing or malformed."""


def prometheus_port_for(http_port: int) -> int:
    """The Prometheus port paired with an HTTP port (7005 -> 9097)."""
    return _check_port("prometheus port", http_port + PROMETHEUS_PORT_OFFSET)


def _check_port(name: str, port: int) -> int:
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name} must be between 1 and 65535, got {port}")
    return port


def _port_from_env(env: Mapping[str, str], var: str, default: int) -> int:
    raw = env.get(var, "").strip()
    if not raw:
        return _check_port(var, default)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{var} must be an integer, got {raw!r}") from None
    return _check_port(var, value)


@dataclass(frozen=True)
class ServiceSettings:
    service_name: str
    host: str = "0.0.0.0"
    http_port: int = 8000
    prometheus_port: int = 8000 + PROMETHEUS_PORT_OFFSET
    log_level: str = "INFO"
    version: str = "0.0.0"

    @classmethod
    def from_env(
        cls,
        service_name: str,
        default_http_port: int,
        *,
        version: str = "0.0.0",
        environ: Mapping[str, str] | None = None,
    ) -> ServiceSettings:
        env = os.environ if environ is None else environ
        http_port = _port_from_env(env, "SERVICE_HTTP_PORT", default_http_port)
        if env.get("SERVICE_PROMETHEUS_PORT", "").strip():
            prometheus_port = _port_from_env(env, "SERVICE_PROMETHEUS_PORT", 0)
        else:
            prometheus_port = prometheus_port_for(http_port)
        if prometheus_port == http_port:
            raise ConfigError(f"SERVICE_PROMETHEUS_PORT and SERVICE_HTTP_PORT are both {http_port}")
        log_level = env.get("SERVICE_LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if log_level not in LOG_LEVELS:
            raise ConfigError(
                f"SERVICE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}"
            )
        host = env.get("SERVICE_HOST", "").strip() or "0.0.0.0"
        return cls(
            service_name=service_name,
            host=host,
            http_port=http_port,
            prometheus_port=prometheus_port,
            log_level=log_level,
            version=version,
        )
