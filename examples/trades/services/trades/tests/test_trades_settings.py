from pathlib import Path

import pytest

from trades.errors import TradesError
from trades.settings import Address, broker_address, load_settings, parse_address


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:6379", "127.0.0.1", 6379),
        ("redis.default.svc.cluster.local:6379", "redis.default.svc.cluster.local", 6379),
        ("localhost:1", "localhost", 1),
        (" broker:65535 ", "broker", 65535),
        ("[::1]:6380", "::1", 6380),
    ],
)
def test_parse_address(text, host, port):
    assert parse_address(text) == Address(host, port)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("localhost", "no port"),
        (":6379", "no host"),
        ("localhost:", "not a number"),
        ("localhost:http", "not a number"),
        ("localhost:0", "out of range"),
        ("localhost:70000", "out of range"),
        ("::1:6379", "IPv6"),
        ("[::1]6379", "IPv6"),
        ("redis://localhost:6379", "no scheme"),
        ("local host:6379", "not a host name"),
    ],
)
def test_parse_address_rejects(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_address(text)


def test_address_str_round_trips():
    for text in ("127.0.0.1:6379", "[::1]:6380", "broker:9092"):
        assert str(parse_address(text)) == text


def test_broker_address_default_and_fallback():
    assert broker_address({}) == Address("127.0.0.1", 6379)
    assert broker_address({"KAFKA_BROKER_ADDRESS": "kafka:9092"}) == Address("kafka", 9092)
    both = {"BROKER_ADDRESS": "redis:6379", "KAFKA_BROKER_ADDRESS": "kafka:9092"}
    assert broker_address(both) == Address("redis", 6379)
    assert broker_address({"BROKER_ADDRESS": "", "KAFKA_BROKER_ADDRESS": "k:1"}).host == "k"


def test_bad_broker_address_names_the_variable():
    with pytest.raises(TradesError, match=r"BROKER_ADDRESS must be HOST:PORT, got 'nope'"):
        broker_address({"BROKER_ADDRESS": "nope"})
    with pytest.raises(TradesError, match=r"KAFKA_BROKER_ADDRESS must be HOST:PORT"):
        broker_address({"KAFKA_BROKER_ADDRESS": "nope"})


def test_load_settings_defaults():
    settings = load_settings({})
    assert settings.state_dir == Path("/app/state")
    assert settings.topic == "trades"
    assert settings.source is None
    assert settings.count == 100
    assert settings.follow is False


def test_load_settings_values():
    settings = load_settings(
        {
            "STATE_DIR": "/tmp/s",
            "TRADES_TOPIC": "t2",
            "TRADES_SOURCE": "trades.jsonl",
            "TRADES_COUNT": "7",
            "TRADES_FOLLOW": "1",
        }
    )
    assert settings.state_dir == Path("/tmp/s")
    assert (settings.topic, settings.source, settings.count) == ("t2", Path("trades.jsonl"), 7)
    assert settings.follow is True


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TRADES_COUNT", "ten", "TRADES_COUNT must be a whole number"),
        ("TRADES_COUNT", "-1", "TRADES_COUNT must be at least 0"),
        ("TRADES_BATCH_SIZE", "0", "TRADES_BATCH_SIZE must be at least 1"),
        ("TRADES_POLL_SECONDS", "0", "TRADES_POLL_SECONDS must be greater than 0"),
        ("TRADES_FOLLOW", "maybe", "TRADES_FOLLOW must be 1 or 0"),
    ],
)
def test_load_settings_rejects(name, value, message):
    with pytest.raises(TradesError, match=message):
        load_settings({name: value})
