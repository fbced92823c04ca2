"""The candles checkpoint and settings; reading and writing the file, the broker
address and typed variables are streamcommon's (tested there)."""

import json

import pytest

from candles.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from candles.errors import CandlesError
from candles.settings import load_settings
from streamcommon.settings import Address


def test_missing_checkpoint_starts_at_the_beginning(tmp_path):
    assert load_checkpoint(tmp_path / "checkpoint.json") == Checkpoint(last_id="0-0")


def test_round_trip_atomically(tmp_path):
    path = tmp_path / "checkpoint.json"
    state = {"candle_seconds": 60, "window": 120_000, "open": {}, "late": 1}
    for n in range(3):
        save_checkpoint(path, Checkpoint(last_id=f"5-{n}", trades=n, candles=2, aggregator=state))
    assert load_checkpoint(path) == Checkpoint(last_id="5-2", trades=2, candles=2, aggregator=state)
    assert json.loads(path.read_text()) == {
        "service": "candles",
        "last_id": "5-2",
        "trades": 2,
        "candles": 2,
        "skipped": 0,
        **state,
    }
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


def test_settings():
    settings = load_settings({"CANDLE_SECONDS": "300", "CANDLES_TOPIC": "c5m"})
    assert (settings.candle_seconds, settings.candles_topic, settings.trades_topic) == (
        300,
        "c5m",
        "trades",
    )
    assert load_settings({"KAFKA_BROKER_ADDRESS": "k:9092"}).broker == Address("k", 9092)
    with pytest.raises(CandlesError, match="CANDLE_SECONDS must be at least 1"):
        load_settings({"CANDLE_SECONDS": "0"})
    with pytest.raises(CandlesError, match="CANDLE_SECONDS must be a whole number"):
        load_settings({"CANDLE_SECONDS": "1m"})
    with pytest.raises(CandlesError, match="both 'x'"):
        load_settings({"TRADES_TOPIC": "x", "CANDLES_TOPIC": "x"})
    with pytest.raises(CandlesError, match="at most 60"):
        load_settings({"CANDLES_POLL_SECONDS": "600"})
    with pytest.raises(CandlesError, match="BROKER_ADDRESS must be HOST:PORT"):
        load_settings({"BROKER_ADDRESS": "k"})
