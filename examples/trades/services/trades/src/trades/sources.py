"""Where trades come from: a JSON-lines file or a deterministic generator.

A trade is one JSON object per line::

    {"id": 1, "pair": "BTC/USD", "price": 60012.5, "volume": 0.25, "ts": 1700000000000}

Ids must increase through the source: a trade whose id is not greater than
the last one published is skipped, which is how a restart resumes.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from trades.errors import TradesError

PAIRS = ("BTC/USD", "ETH/USD")
START_PRICES = {"BTC/USD": 60_000.0, "ETH/USD": 3_000.0}
START_TS = 1_700_000_000_000  # 2023-11-14T22:13:20Z, in milliseconds


@dataclass(frozen=True)
class Trade:
    id: int
    pair: str
    price: float
    volume: float
    ts: int

    def fields(self) -> dict[str, str]:
        """The stream entry: every value as text, floats exact (repr)."""
        return {
            "id": str(self.id),
            "pair": self.pair,
            "price": repr(self.price),
            "volume": repr(self.volume),
            "ts": str(self.ts),
        }


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_trade(line: str, where: str) -> Trade | None:
    """One line of a trades file; None for a blank line; TradesError for a bad one."""
    if not line.strip():
        return None
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise TradesError(f"bad trade at {where}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise TradesError(f"bad trade at {where}: not a JSON object")
    missing = [k for k in ("id", "pair", "price", "volume", "ts") if k not in data]
    if missing:
        raise TradesError(f"bad trade at {where}: missing {', '.join(missing)}")
    tid, pair, price, volume, ts = (data[k] for k in ("id", "pair", "price", "volume", "ts"))
    if not _is_int(tid) or tid < 1:
        raise TradesError(f"bad trade at {where}: id must be a whole number >= 1")
    if not isinstance(pair, str) or not pair.strip():
        raise TradesError(f"bad trade at {where}: pair must be a non-empty string")
    if not _is_number(price) or not price > 0:
        raise TradesError(f"bad trade at {where}: price must be a number > 0")
    if not _is_number(volume) or volume < 0:
        raise TradesError(f"bad trade at {where}: volume must be a number >= 0")
    if not _is_int(ts) or ts < 0:
        raise TradesError(f"bad trade at {where}: ts must be whole milliseconds >= 0")
    return Trade(id=tid, pair=pair, price=float(price), volume=float(volume), ts=ts)


def generate_trades(seed: int = 42, count: int | None = None) -> Iterator[Trade]:
    """A seeded random walk of trades with ids 1, 2, 3, ...; endless when count is None.

    The same seed always gives the same trades, and a longer run starts with
    the trades of a shorter one, so a restart can skip what it already published.
    """
    rng = random.Random(seed)
    prices = dict(START_PRICES)
    ts = START_TS
    ids = itertools.count(1) if count is None else range(1, count + 1)
    for tid in ids:
        pair = rng.choice(PAIRS)
        price = round(prices[pair] * (1.0 + rng.gauss(0.0, 0.001)), 2)
        prices[pair] = price
        volume = round(rng.uniform(0.001, 0.5), 6)
        ts += rng.randint(100, 5_000)
        yield Trade(id=tid, pair=pair, price=price, volume=volume, ts=ts)


class GeneratedSource:
    """The built-in generator: ``count`` trades, then (when following) one more per poll."""

    def __init__(self, count: int, seed: int = 42) -> None:
        self._trades = generate_trades(seed)
        self._budget = count
        self.description = f"built-in generator (seed {seed})"

    def read(self, after: int, limit: int) -> list[Trade]:
        out: list[Trade] = []
        while self._budget > 0 and len(out) < limit:
            trade = next(self._trades)
            self._budget -= 1
            if trade.id > after:
                out.append(trade)
        return out

    def poll(self) -> None:
        self._budget += 1

    def close(self) -> None:
        pass


class FileSource:
    """A JSON-lines file, read incrementally; when following, new lines are picked up."""

    def __init__(self, path: Path, follow: bool = False) -> None:
        self.path = path
        self.description = str(path)
        self._follow = follow
        self._lineno = 0
        try:
            self._fh: BinaryIO = open(path, "rb")  # closed by close()
        except OSError as exc:
            raise TradesError(f"cannot read TRADES_SOURCE {path} ({exc.strerror or exc})") from None

    def _next_line(self) -> bytes | None:
        pos = self._fh.tell()
        raw = self._fh.readline()
        if not raw:
            return None
        if not raw.endswith(b"\n") and self._follow:
            # A line still being written: leave it for the next poll.
            self._fh.seek(pos)
            return None
        self._lineno += 1
        return raw

    def read(self, after: int, limit: int) -> list[Trade]:
        out: list[Trade] = []
        while len(out) < limit:
            raw = self._next_line()
            if raw is None:
                break
            where = f"{self.path}:{self._lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise TradesError(f"bad trade at {where}: not UTF-8") from None
            trade = parse_trade(line, where)
            if trade is None or trade.id <= after:
                continue
            out.append(trade)
            after = trade.id
        return out

    def poll(self) -> None:
        pass

    def close(self) -> None:
        self._fh.close()


def open_source(path: Path | None, count: int, seed: int, follow: bool):
    if path is None:
        return GeneratedSource(count, seed)
    return FileSource(path, follow=follow)
