"""The connection to the broker, a Redis server, and why it could not be made."""

from __future__ import annotations

import socket

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from streamcommon.settings import Address

CONNECT_TIMEOUT = 2.0
OPERATION_TIMEOUT = 10.0


def connect(
    address: Address,
    connect_timeout: float = CONNECT_TIMEOUT,
    operation_timeout: float = OPERATION_TIMEOUT,
) -> redis.Redis:
    """A client that has answered PING; raises redis ConnectionError/TimeoutError if not.

    It does not retry: a broker that is not there is reported at once. Replies
    are decoded to str.
    """
    client = redis.Redis(
        host=address.host,
        port=address.port,
        socket_connect_timeout=connect_timeout,
        socket_timeout=operation_timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )
    client.ping()
    return client


def unreachable_reason(exc: BaseException, connect_timeout: float = CONNECT_TIMEOUT) -> str:
    """The short cause of a connection failure, e.g. 'Connection refused'."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, socket.timeout | TimeoutError):
            return f"no answer within {connect_timeout:g} s"
        if isinstance(cur, socket.gaierror):
            return f"cannot resolve the host: {cur.strerror or cur}"
        if isinstance(cur, OSError) and cur.strerror:
            return cur.strerror
        cur = cur.__cause__ or cur.__context__
    if isinstance(exc, redis.exceptions.TimeoutError):
        return f"no answer within {connect_timeout:g} s"
    return str(exc).rstrip(".") or type(exc).__name__
