"""Serve an app with Hypercorn until SIGTERM or SIGINT, then exit 0."""

from __future__ import annotations

import asyncio
import logging
import signal

from common_core import ServiceSettings
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config
from quart import Quart

from huleedu_service_libs.logging_utils import configure_logging

log = logging.getLogger(__name__)


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve(
    app: Quart,
    settings: ServiceSettings,
    *,
    stop: asyncio.Event | None = None,
    graceful_timeout: float = 5.0,
) -> None:
    """Serve ``app`` until SIGTERM/SIGINT arrives (or ``stop`` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)

    def _on_signal(signum: int) -> None:
        log.info("shutting down", extra={"signal": signal.Signals(signum).name})
        stop.set()

    for signum in signals:
        loop.add_signal_handler(signum, _on_signal, signum)

    config = Config()
    config.bind = [_bind(settings.host, settings.http_port)]
    config.graceful_timeout = graceful_timeout
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    log.info(
        "service starting",
        extra={
            "host": settings.host,
            "http_port": settings.http_port,
            "prometheus_port": settings.prometheus_port,
            "version": settings.version,
        },
    )
    try:
        await hypercorn_serve(app, config, shutdown_trigger=stop.wait)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
    log.info("service stopped")


def run_service(app: Quart, settings: ServiceSettings) -> int:
    """Configure logging, serve until a stop signal, return the exit code (0)."""
    configure_logging(settings.service_name, settings.log_level)
    asyncio.run(serve(app, settings))
    return 0
