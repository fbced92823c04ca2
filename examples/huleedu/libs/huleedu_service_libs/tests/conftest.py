import socket

import pytest
from common_core import ServiceSettings
from quart import Blueprint

from huleedu_service_libs import ApiError, ServiceMetrics, create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def settings():
    http = free_port()
    return ServiceSettings(
        service_name="demo_service",
        host="127.0.0.1",
        http_port=http,
        prometheus_port=free_port(),
        version="1.2.3",
    )


@pytest.fixture
def metrics():
    return ServiceMetrics()


@pytest.fixture
def app(settings, metrics):
    bp = Blueprint("demo", __name__)

    @bp.get("/v1/items/<item_id>")
    async def get_item(item_id: str):
        if item_id == "missing":
            raise ApiError(404, "item not found", {"id": item_id})
        return {"id": item_id}

    @bp.get("/boom")
    async def boom():
        raise RuntimeError("kaput")

    return create_app(settings, [bp], metrics=metrics)
