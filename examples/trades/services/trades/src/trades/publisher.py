"""The broker side: trades appended to a stream with XADD (connect: streamcommon.broker)."""

from __future__ import annotations

import redis

from trades.sources import Trade


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
