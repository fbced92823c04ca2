from pathlib import Path

import pytest

from streamcommon.errors import ServiceError
from streamcommon.settings import (
    Address,
    broker_address,
    env_flag,
    env_float,
    env_int,
    env_str,
    parse_address,
    state_dir,
)


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
    with pytest.raises(ServiceError) as info:
        broker_address({"BROKER_ADDRESS": "nope"})
    assert str(info.value) == (
        "BROKER_ADDRESS must be HOST:PORT, got 'nope' (no port); set BROKER_ADDRESS"
    )
    with pytest.raises(ServiceError, match=r"^KAFKA_BROKER_ADDRESS must be HOST:PORT"):
        broker_address({"KAFKA_BROKER_ADDRESS": "nope"})


def test_state_dir_and_env_str():
    assert state_dir({}) == Path("/app/state")
    assert state_dir({"STATE_DIR": "  "}) == Path("/app/state")
    assert state_dir({"STATE_DIR": " /tmp/s "}) == Path("/tmp/s")
    assert env_str({"T": " x "}, "T", "d") == "x"
    assert env_str({}, "T", "d") == "d"


def test_env_int():
    assert env_int({}, "N", 5, minimum=0) == 5
    assert env_int({"N": " "}, "N", 5, minimum=0) == 5
    assert env_int({"N": " 7 "}, "N", 5, minimum=0) == 7
    with pytest.raises(ServiceError, match=r"^N must be a whole number, got 'ten'$"):
        env_int({"N": "ten"}, "N", 5, minimum=0)
    with pytest.raises(ServiceError, match=r"^N must be at least 1, got 0$"):
        env_int({"N": "0"}, "N", 5, minimum=1)


def test_env_float():
    assert env_float({}, "S", 1.0) == 1.0
    assert env_float({"S": "0.25"}, "S", 1.0) == 0.25
    with pytest.raises(ServiceError, match=r"^S must be a number, got 'x'$"):
        env_float({"S": "x"}, "S", 1.0)
    with pytest.raises(ServiceError, match=r"^S must be greater than 0, got -1$"):
        env_float({"S": "-1"}, "S", 1.0)
    with pytest.raises(ServiceError, match=r"^S must be greater than 0, got nan$"):
        env_float({"S": "nan"}, "S", 1.0)
    assert env_float({"S": "60"}, "S", 1.0, maximum=60) == 60.0
    with pytest.raises(ServiceError, match=r"^S must be greater than 0 and at most 60, got 61$"):
        env_float({"S": "61"}, "S", 1.0, maximum=60)
    with pytest.raises(ServiceError, match=r"^S must be greater than 0 and at most 60, got 0$"):
        env_float({"S": "0"}, "S", 1.0, maximum=60)


@pytest.mark.parametrize(
    ("text", "value"),
    [("", False), ("0", False), ("off", False), ("No", False), ("1", True), (" TRUE ", True)],
)
def test_env_flag(text, value):
    assert env_flag({"F": text}, "F") is value


def test_env_flag_rejects():
    assert env_flag({}, "F") is False
    with pytest.raises(ServiceError, match=r"^F must be 1 or 0, got 'maybe'$"):
        env_flag({"F": "maybe"}, "F")
