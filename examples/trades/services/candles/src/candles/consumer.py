"""The broker side: read the trades stream with XREAD, append candles with XADD.

The connection itself is streamcommon.broker's.
"""

from __future__ import annotations

import redis

from candles.aggregate import Candle


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
