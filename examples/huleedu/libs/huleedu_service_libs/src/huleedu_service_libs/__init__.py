"""Shared plumbing for HuleEdu Quart services."""

from huleedu_service_libs.app_factory import ApiError, create_app, parse_body
from huleedu_service_libs.logging_utils import JsonFormatter, configure_logging
from huleedu_service_libs.metrics import MetricsServer, ServiceMetrics
from huleedu_service_libs.runner import run_service, serve

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "JsonFormatter",
    "MetricsServer",
    "ServiceMetrics",
    "configure_logging",
    "create_app",
    "parse_body",
    "run_service",
    "serve",
]
