import pytest
from common_core import ServiceSettings

from content_service.app import create_app


@pytest.fixture
def app():
    settings = ServiceSettings(
        service_name="content_service", http_port=7006, prometheus_port=9098, version="test"
    )
    return create_app(settings, serve_metrics=False)


@pytest.fixture
def client(app):
    return app.test_client()
