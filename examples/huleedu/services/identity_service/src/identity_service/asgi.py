"""ASGI entry point for external servers, e.g. `hypercorn --reload identity_service.asgi:app`."""

from huleedu_service_libs import configure_logging

from identity_service.app import create_app, load_settings

settings = load_settings()
configure_logging(settings.service_name, settings.log_level)
app = create_app(settings)
