import pytest
from common_core import ServiceSettings

from identity_service.app import create_app


@pytest.fixture
def app():
    settings = ServiceSettings(
        service_name="identity_service", http_port=7005, prometheus_port=9097, version="test"
    )
    return create_app(settings, serve_metrics=False)


@pytest.fixture
def client(app):
    return app.test_client()
