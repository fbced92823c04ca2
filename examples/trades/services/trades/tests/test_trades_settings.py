"""The trades service's settings; the broker address and typed variables are
streamcommon.settings' (tested there)."""

from pathlib import Path

import pytest

from streamcommon.settings import Address
from trades.errors import TradesError
from trades.settings import load_settings


def test_load_settings_defaults():
    settings = load_settings({})
    assert settings.broker == Address("127.0.0.1", 6379)
    assert settings.state_dir == Path("/app/state")
    assert settings.topic == "trades"
    assert settings.source is None
    assert settings.count == 100
    assert (settings.seed, settings.batch_size, settings.poll_seconds) == (42, 50, 1.0)
    assert settings.follow is False


def test_load_settings_values():
    settings = load_settings(
        {
            "BROKER_ADDRESS": "redis:6380",
            "STATE_DIR": "/tmp/s",
            "TRADES_TOPIC": "t2",
            "TRADES_SOURCE": "trades.jsonl",
            "TRADES_COUNT": "7",
            "TRADES_FOLLOW": "1",
        }
    )
    assert settings.broker == Address("redis", 6380)
    assert settings.state_dir == Path("/tmp/s")
    assert (settings.topic, settings.source, settings.count) == ("t2", Path("trades.jsonl"), 7)
    assert settings.follow is True


def test_follow_argument_wins_over_the_variable():
    assert load_settings({"TRADES_FOLLOW": "0"}, follow=True).follow is True


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BROKER_ADDRESS", "nope", "BROKER_ADDRESS must be HOST:PORT, got 'nope'"),
        ("TRADES_COUNT", "ten", "TRADES_COUNT must be a whole number"),
        ("TRADES_COUNT", "-1", "TRADES_COUNT must be at least 0"),
        ("TRADES_BATCH_SIZE", "0", "TRADES_BATCH_SIZE must be at least 1"),
        ("TRADES_POLL_SECONDS", "0", "TRADES_POLL_SECONDS must be greater than 0, got 0"),
        ("TRADES_FOLLOW", "maybe", "TRADES_FOLLOW must be 1 or 0"),
    ],
)
def test_load_settings_rejects(name, value, message):
    with pytest.raises(TradesError, match=message):
        load_settings({name: value})
