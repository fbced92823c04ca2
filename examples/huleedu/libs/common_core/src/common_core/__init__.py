"""Shared models and settings for HuleEdu services."""

from common_core.config import (
    PROMETHEUS_PORT_OFFSET,
    ConfigError,
    ServiceSettings,
    prometheus_port_for,
)
from common_core.models import (
    ContentCreate,
    ContentItem,
    ErrorResponse,
    HealthStatus,
    User,
    UserCreate,
)

__version__ = "0.1.0"

__all__ = [
    "PROMETHEUS_PORT_OFFSET",
    "ConfigError",
    "ContentCreate",
    "ContentItem",
    "ErrorResponse",
    "HealthStatus",
    "ServiceSettings",
    "User",
    "UserCreate",
    "prometheus_port_for",
]
