"""HuleEdu identity service."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("identity-service")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

SERVICE_NAME = "identity_service"
DEFAULT_HTTP_PORT = 7005
