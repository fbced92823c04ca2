import json

import pytest

from candles.checkpoint import Checkpoint, ensure_state_dir, load_checkpoint, save_checkpoint
from candles.errors import CandlesError
from candles.settings import Address, broker_address, load_settings, parse_address


def test_missing_checkpoint_starts_at_the_beginning(tmp_path):
    assert load_checkpoint(tmp_path / "checkpoint.json") == Checkpoint(last_id="0-0")


def test_round_trip_atomically(tmp_path):
    path = tmp_path / "checkpoint.json"
    state = {"candle_seconds": 60, "window": 120_000, "open": {}, "late": 1}
    for n in range(3):
        save_checkpoint(path, Checkpoint(last_id=f"5-{n}", trades=n, candles=2, aggregator=state))
    assert load_checkpoint(path) == Checkpoint(last_id="5-2", trades=2, candles=2, aggregator=state)
    assert json.loads(path.read_text())["service"] == "candles"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.json"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope", "not valid JSON"),
        ('{"last_id": 5}', "needs a stream id"),
        ('{"last_id": "5"}', "needs a stream id"),
        ('{"last_id": "0-0", "trades": -2}', "whole numbers"),
        ('{"service": "trades", "last_id": 3, "count": 3}', "belongs to the trades service"),
    ],
)
def test_bad_checkpoint(tmp_path, text, message):
    path = tmp_path / "checkpoint.json"
    path.write_text(text)
    with pytest.raises(CandlesError, match=message):
        load_checkpoint(path)


def test_state_dir_not_writable(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(CandlesError, match="is not writable"):
        ensure_state_dir(tmp_path / "f" / "state")


def test_parse_address():
    assert parse_address("redis.default.svc.cluster.local:6379") == Address(
        "redis.default.svc.cluster.local", 6379
    )
    assert parse_address("[::1]:1") == Address("::1", 1)
    for bad in ("redis", "redis:port", "redis:0", "redis://x:1", ":1"):
        with pytest.raises(ValueError):
            parse_address(bad)


def test_broker_address_fallback():
    assert broker_address({}) == Address("127.0.0.1", 6379)
    assert broker_address({"KAFKA_BROKER_ADDRESS": "k:9092"}) == Address("k", 9092)
    with pytest.raises(CandlesError, match="BROKER_ADDRESS must be HOST:PORT"):
        broker_address({"BROKER_ADDRESS": "k"})


def test_settings():
    settings = load_settings({"CANDLE_SECONDS": "300", "CANDLES_TOPIC": "c5m"})
    assert (settings.candle_seconds, settings.candles_topic, settings.trades_topic) == (
        300,
        "c5m",
        "trades",
    )
    with pytest.raises(CandlesError, match="CANDLE_SECONDS must be at least 1"):
        load_settings({"CANDLE_SECONDS": "0"})
    with pytest.raises(CandlesError, match="CANDLE_SECONDS must be a whole number"):
        load_settings({"CANDLE_SECONDS": "1m"})
    with pytest.raises(CandlesError, match="both 'x'"):
        load_settings({"TRADES_TOPIC": "x", "CANDLES_TOPIC": "x"})
    with pytest.raises(CandlesError, match="at most 60"):
        load_settings({"CANDLES_POLL_SECONDS": "600"})
