"""The broker side: read the trades stream with XREAD, append candles with XADD."""

from __future__ import annotations

import socket

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from candles.aggregate import Candle
from candles.settings import Address

CONNECT_TIMEOUT = 2.0


def connect(
    address: Address, connect_timeout: float = CONNECT_TIMEOUT, operation_timeout: float = 10.0
) -> redis.Redis:
    """A client that has answered PING; raises redis ConnectionError/TimeoutError if not."""
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


def read_trades(
    client: redis.Redis, topic: str, after: str, count: int, block_ms: int | None
) -> list[tuple[str, dict[str, str]]]:
    """Up to ``count`` entries of the stream after id ``after``; waits up to block_ms if given."""
    response = client.xread({topic: after}, count=count, block=block_ms)
    if not response:
        return []
    _name, entries = response[0]
    return entries


def publish(client: redis.Redis, topic: str, candles: list[Candle]) -> list[str]:
    """Append the candles to the stream in one MULTI/EXEC: all of them or none."""
    pipe = client.pipeline(transaction=True)
    for candle in candles:
        pipe.xadd(topic, candle.fields())
    return pipe.execute()


def last_published_window(client: redis.Redis, topic: str) -> int | None:
    """window_start of the newest candle in the stream, or None if there is none."""
    for _entry_id, fields in client.xrevrange(topic, count=1):
        try:
            return int(fields["window_start"])
        except (KeyError, ValueError):
            return None
    return None
