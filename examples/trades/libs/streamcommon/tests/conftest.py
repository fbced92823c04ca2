"""Fixtures: a real redis-server on 127.0.0.1, from streamcommon.testing itself."""

from streamcommon.testing import broker, closed_address, redis_server  # noqa: F401
