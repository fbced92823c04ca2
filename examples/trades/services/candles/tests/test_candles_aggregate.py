import pytest

from candles.aggregate import Candle, CandleAggregator, CandleTrade, parse_trade_fields

MIN = 60_000


def t(pair, price, volume, ts):
    return CandleTrade(pair=pair, price=price, volume=volume, ts=ts)


def feed(aggregator, trades):
    closed = []
    for trade in trades:
        closed.extend(aggregator.add(trade))
    return closed


def test_a_candle_closes_when_a_later_window_starts():
    agg = CandleAggregator(60)
    assert feed(agg, [t("BTC/USD", 10.0, 1.0, 0), t("BTC/USD", 12.0, 2.0, 30_000)]) == []
    assert feed(agg, [t("BTC/USD", 11.0, 0.5, 59_999), t("BTC/USD", 9.0, 1.5, 59_999)]) == []
    (candle,) = agg.add(t("BTC/USD", 20.0, 1.0, MIN))
    assert candle == Candle(
        pair="BTC/USD",
        window_start=0,
        window_end=MIN,
        open=10.0,
        high=12.0,
        low=9.0,
        close=9.0,
        volume=5.0,
        trades=4,
        first_ts=0,
        last_ts=59_999,
    )
    assert list(agg.open) == ["BTC/USD"]
    assert agg.open["BTC/USD"].window_start == MIN


def test_windows_align_to_the_epoch():
    agg = CandleAggregator(60)
    agg.add(t("X", 1.0, 1.0, 1_700_000_012_345))
    assert agg.window == 1_700_000_012_345 - 1_700_000_012_345 % MIN
    assert agg.open["X"].window_end - agg.open["X"].window_start == MIN


def test_all_pairs_close_together_sorted_by_pair():
    agg = CandleAggregator(60)
    feed(agg, [t("ETH/USD", 3.0, 1.0, 1_000), t("BTC/USD", 60.0, 1.0, 2_000)])
    closed = agg.add(t("ETH/USD", 3.1, 1.0, MIN + 5))
    assert [(c.pair, c.window_start) for c in closed] == [("BTC/USD", 0), ("ETH/USD", 0)]
    assert list(agg.open) == ["ETH/USD"]


def test_out_of_order_within_a_window():
    agg = CandleAggregator(60)
    feed(
        agg,
        [
            t("P", 5.0, 1.0, 30_000),
            t("P", 4.0, 1.0, 10_000),
            t("P", 6.0, 1.0, 50_000),
            t("P", 7.0, 1.0, 20_000),
        ],
    )
    (candle,) = agg.close_all()
    assert (candle.open, candle.high, candle.low, candle.close) == (4.0, 7.0, 4.0, 6.0)


def test_late_trades_are_dropped_and_counted():
    agg = CandleAggregator(60)
    feed(agg, [t("P", 1.0, 1.0, 10), t("P", 2.0, 1.0, MIN + 10)])
    assert agg.add(t("P", 100.0, 1.0, 20)) == []
    assert agg.late == 1
    assert agg.open["P"].high == 2.0


def test_empty_windows_make_no_candles():
    agg = CandleAggregator(1)
    feed(agg, [t("P", 1.0, 1.0, 0)])
    closed = agg.add(t("P", 1.0, 1.0, 10_000))
    assert [c.window_start for c in closed] == [0]


def test_state_round_trip_gives_the_same_candles_as_one_pass():
    trades = [
        t("BTC/USD" if i % 3 else "ETH/USD", 100.0 + (i * 7919 % 13), 0.25 + i % 4, i * 7_000)
        for i in range(60)
    ]
    whole = CandleAggregator(60)
    expected = feed(whole, trades) + whole.close_all()
    for cut in range(len(trades) + 1):
        first = CandleAggregator(60)
        closed = feed(first, trades[:cut])
        second = CandleAggregator.from_state(60, first.state())
        closed += feed(second, trades[cut:]) + second.close_all()
        assert closed == expected, cut


def test_state_from_other_seconds_is_refused():
    agg = CandleAggregator(60)
    agg.add(t("P", 1.0, 1.0, 0))
    with pytest.raises(ValueError, match="CANDLE_SECONDS=60, not 300"):
        CandleAggregator.from_state(300, agg.state())


def test_empty_state_is_a_fresh_aggregator():
    agg = CandleAggregator.from_state(60, {})
    assert (agg.window, agg.open, agg.late) == (None, {}, 0)


def test_candle_fields():
    candle = Candle("BTC/USD", 0, MIN, 1.5, 2.0, 1.0, 1.25, 0.1 + 0.2, 3, 0, 1)
    assert candle.fields() == {
        "pair": "BTC/USD",
        "window_start": "0",
        "window_end": "60000",
        "open": "1.5",
        "high": "2.0",
        "low": "1.0",
        "close": "1.25",
        "volume": repr(0.1 + 0.2),
        "trades": "3",
    }


def test_parse_trade_fields():
    fields = {"id": "1", "pair": "BTC/USD", "price": "60000.5", "volume": "0.1", "ts": "17"}
    assert parse_trade_fields(fields) == t("BTC/USD", 60000.5, 0.1, 17)
    for broken in (
        {},
        {**fields, "price": "x"},
        {**fields, "price": "0"},
        {**fields, "volume": "-1"},
        {**fields, "ts": "1.5"},
        {**fields, "pair": ""},
    ):
        assert parse_trade_fields(broken) is None
