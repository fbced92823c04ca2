"""OHLCV candles per pair over fixed windows of event time.

Windows are aligned to the epoch: a trade at ``ts`` milliseconds belongs to the
window starting at ``ts - ts % (seconds * 1000)``. The aggregator keeps one
window open for all pairs: the window of the newest trade seen. When a trade
from a later window arrives, every open candle is closed and returned, so a
candle is emitted once, complete. A trade from a window already closed is late:
it is counted and dropped. Within the open window trades may come in any
order: open and close are the prices of the earliest and latest trade by ts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class CandleTrade:
    pair: str
    price: float
    volume: float
    ts: int


def parse_trade_fields(fields: dict[str, str]) -> CandleTrade | None:
    """A trade from a stream entry (pair, price, volume, ts); None if it is not one."""
    try:
        pair = fields["pair"]
        price = float(fields["price"])
        volume = float(fields["volume"])
        ts = int(fields["ts"])
    except (KeyError, ValueError, TypeError):
        return None
    if not pair or not price > 0 or not volume >= 0 or ts < 0:
        return None
    return CandleTrade(pair=pair, price=price, volume=volume, ts=ts)


@dataclass
class Candle:
    pair: str
    window_start: int
    window_end: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int
    first_ts: int
    last_ts: int

    @classmethod
    def start(cls, trade: CandleTrade, window_start: int, window_ms: int) -> Candle:
        return cls(
            pair=trade.pair,
            window_start=window_start,
            window_end=window_start + window_ms,
            open=trade.price,
            high=trade.price,
            low=trade.price,
            close=trade.price,
            volume=trade.volume,
            trades=1,
            first_ts=trade.ts,
            last_ts=trade.ts,
        )

    def add(self, trade: CandleTrade) -> None:
        if trade.ts < self.first_ts:
            self.first_ts, self.open = trade.ts, trade.price
        if trade.ts >= self.last_ts:
            self.last_ts, self.close = trade.ts, trade.price
        self.high = max(self.high, trade.price)
        self.low = min(self.low, trade.price)
        self.volume += trade.volume
        self.trades += 1

    def fields(self) -> dict[str, str]:
        """The stream entry: every value as text, floats exact (repr)."""
        return {
            "pair": self.pair,
            "window_start": str(self.window_start),
            "window_end": str(self.window_end),
            "open": repr(self.open),
            "high": repr(self.high),
            "low": repr(self.low),
            "close": repr(self.close),
            "volume": repr(self.volume),
            "trades": str(self.trades),
        }


class CandleAggregator:
    def __init__(
        self,
        seconds: int,
        window: int | None = None,
        open_candles: dict[str, Candle] | None = None,
        late: int = 0,
    ) -> None:
        if seconds < 1:
            raise ValueError("candles need at least 1 second")
        self.seconds = seconds
        self.window_ms = seconds * 1000
        self.window = window
        self.open: dict[str, Candle] = dict(open_candles or {})
        self.late = late

    def add(self, trade: CandleTrade) -> list[Candle]:
        """Add one trade; return the candles it closed (oldest first, by pair)."""
        start = trade.ts - trade.ts % self.window_ms
        closed: list[Candle] = []
        if self.window is not None and start < self.window:
            self.late += 1
            return closed
        if self.window is None or start > self.window:
            closed = self.close_all()
            self.window = start
        candle = self.open.get(trade.pair)
        if candle is None:
            self.open[trade.pair] = Candle.start(trade, start, self.window_ms)
        else:
            candle.add(trade)
        return closed

    def close_all(self) -> list[Candle]:
        closed = [self.open[pair] for pair in sorted(self.open)]
        self.open = {}
        return closed

    def state(self) -> dict[str, Any]:
        return {
            "candle_seconds": self.seconds,
            "window": self.window,
            "open": {pair: asdict(candle) for pair, candle in sorted(self.open.items())},
            "late": self.late,
        }

    @classmethod
    def from_state(cls, seconds: int, state: dict[str, Any]) -> CandleAggregator:
        """Rebuild from ``state()``; raises ValueError if it does not fit."""
        if state.get("candle_seconds", seconds) != seconds:
            raise ValueError(
                f"it was written with CANDLE_SECONDS={state['candle_seconds']}, not {seconds}"
            )
        window = state.get("window")
        if window is not None and (not isinstance(window, int) or isinstance(window, bool)):
            raise ValueError("window is not a whole number")
        raw_open = state.get("open") or {}
        if not isinstance(raw_open, dict):
            raise ValueError("open is not an object")
        try:
            open_candles = {pair: Candle(**data) for pair, data in raw_open.items()}
        except TypeError as exc:
            raise ValueError(f"an open candle is malformed ({exc})") from None
        late = state.get("late", 0)
        if not isinstance(late, int) or late < 0:
            raise ValueError("late is not a whole number")
        return cls(seconds, window=window, open_candles=open_candles, late=late)
