"""HuleEdu content service."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("content-service")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

SERVICE_NAME = "content_service"
DEFAULT_HTTP_PORT = 7006
