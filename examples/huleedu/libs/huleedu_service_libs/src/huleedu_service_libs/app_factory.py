"""The Quart app factory every HuleEdu service uses."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TypeVar

from common_core import ErrorResponse, HealthStatus, ServiceSettings
from pydantic import BaseModel, ValidationError
from quart import Blueprint, Quart, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from huleedu_service_libs.metrics import MetricsServer, ServiceMetrics

Model = TypeVar("Model", bound=BaseModel)
log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raise from a handler to answer ``{"error": ..., "detail": ...}`` with ``status``."""

    def __init__(self, status: int, error: str, detail: object | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail


async def parse_body(model: type[Model]) -> Model:
    """The request's JSON body validated as ``model``; 400/422 ApiError otherwise."""
    data = await request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        detail = [
            {"loc": list(err["loc"]), "msg": err["msg"]}
            for err in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise ApiError(422, "validation failed", detail) from None


def _error(status: int, error: str, detail: object | None = None) -> tuple[Response, int]:
    return jsonify(ErrorResponse(error=error, detail=detail).model_dump()), status


def create_app(
    settings: ServiceSettings,
    blueprints: Iterable[Blueprint] = (),
    *,
    metrics: ServiceMetrics | None = None,
    serve_metrics: bool = True,
) -> Quart:
    """A Quart app with /health, per-route metrics and JSON errors.

    When the app is served (Quart's ``before_serving``), the Prometheus
    endpoint is started on ``settings.prometheus_port`` unless
    ``serve_metrics`` is false; it stops with the app.
    """
    app = Quart(settings.service_name)
    metrics = metrics or ServiceMetrics()
    app.extensions["huleedu"] = {"settings": settings, "metrics": metrics}

    @app.before_request
    async def _start_timer() -> None:
        g.huleedu_started = time.perf_counter()

    @app.after_request
    async def _record(response: Response) -> Response:
        started = g.get("huleedu_started")
        if started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
            metrics.observe(
                request.method,
                rule,
                response.status_code,
                time.perf_counter() - started,
            )
        return response

    @app.get("/health")
    async def health() -> Response:
        status = HealthStatus(service=settings.service_name, version=settings.version)
        return jsonify(status.model_dump())

    @app.errorhandler(ApiError)
    async def _api_error(exc: ApiError) -> tuple[Response, int]:
        return _error(exc.status, exc.error, exc.detail)

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException) -> tuple[Response, int]:
        return _error(exc.code or 500, (exc.name or "error").lower())

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")
        return _error(500, "internal server error")

    for blueprint in blueprints:
        app.register_blueprint(blueprint)

    if serve_metrics:
        server = MetricsServer(metrics, settings.host, settings.prometheus_port)

        @app.before_serving
        async def _start_metrics() -> None:
            port = server.start()
            log.info(
                "metrics endpoint listening",
                extra={"host": settings.host, "port": port},
            )

        @app.after_serving
        async def _stop_metrics() -> None:
            server.stop()

    return app
