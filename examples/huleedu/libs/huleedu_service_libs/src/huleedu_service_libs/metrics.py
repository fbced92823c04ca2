"""Prometheus metrics: a request counter and a latency histogram per route."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)


class ServiceMetrics:
    """Metrics of one app, in a registry of its own (so tests can make many apps)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests handled, by method, route and status code.",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time spent handling HTTP requests, by method and route.",
            ["method", "endpoint"],
            registry=self.registry,
        )

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(method=method, endpoint=endpoint, status=str(status)).inc()
        self.latency.labels(method=method, endpoint=endpoint).observe(seconds)

    def count(self, method: str, endpoint: str, status: int) -> float:
        value = self.registry.get_sample_value(
            "http_requests_total",
            {"method": method, "endpoint": endpoint, "status": str(status)},
        )
        return value or 0.0

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsServer:
    """prometheus_client's own HTTP server (GET /metrics) in a daemon thread."""

    def __init__(self, metrics: ServiceMetrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Start serving; return the bound port (useful when ``port`` is 0)."""
        server, thread = start_http_server(
            self.port, addr=self.host, registry=self.metrics.registry
        )
        self._server, self._thread = server, thread
        return server.server_port

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
