"""The broker side: a Redis server, trades appended to a stream with XADD."""

from __future__ import annotations

import socket

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from trades.settings import Address
from trades.sources import Trade

CONNECT_TIMEOUT = 2.0
OPERATION_TIMEOUT = 10.0


def connect(address: Address, connect_timeout: float = CONNECT_TIMEOUT) -> redis.Redis:
    """A client that has answered PING; raises redis ConnectionError/TimeoutError if not."""
    client = redis.Redis(
        host=address.host,
        port=address.port,
        socket_connect_timeout=connect_timeout,
        socket_timeout=OPERATION_TIMEOUT,
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


def publish(client: redis.Redis, topic: str, trades: list[Trade]) -> list[str]:
    """Append the trades to the stream in one MULTI/EXEC: all of them or none."""
    pipe = client.pipeline(transaction=True)
    for trade in trades:
        pipe.xadd(topic, trade.fields())
    return pipe.execute()


def published_after(client: redis.Redis, topic: str, last_id: int, scan: int) -> tuple[int, int]:
    """Trades already in the stream past the checkpoint: (highest trade id, how many).

    Each batch goes in as one transaction and the checkpoint is written after it,
    so only the last batch can be in the stream without being in the checkpoint:
    looking at the newest ``scan`` entries is enough. Returns (last_id, 0) when
    there is nothing past the checkpoint.
    """
    highest, found = last_id, 0
    for _entry_id, fields in client.xrevrange(topic, count=scan):
        try:
            tid = int(fields.get("id", ""))
        except ValueError:
            continue
        if tid > last_id:
            highest = max(highest, tid)
            found += 1
    return highest, found
