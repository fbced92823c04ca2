"""The broker connection, against a real redis-server on 127.0.0.1 (see conftest.py)."""

import socket
import time

import pytest
import redis

from streamcommon.broker import connect, unreachable_reason
from streamcommon.settings import parse_address


def test_connect_answers_and_decodes(broker):
    address, _client = broker
    client = connect(parse_address(address))
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (2.0, 10.0)
    client.set("k", "v")
    assert client.get("k") == "v"
    client.close()


def test_operation_timeout(broker):
    address, _client = broker
    client = connect(parse_address(address), operation_timeout=3.5)
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 3.5
    client.close()


def test_closed_port_is_refused_at_once(closed_address):
    started = time.monotonic()
    with pytest.raises(redis.exceptions.ConnectionError) as info:
        connect(parse_address(closed_address))
    assert time.monotonic() - started < 2
    assert unreachable_reason(info.value) == "Connection refused"


def _chained(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


def test_unreachable_reason():
    timeout = _chained(redis.exceptions.TimeoutError("Timeout connecting"), TimeoutError())
    assert unreachable_reason(timeout) == "no answer within 2 s"
    assert unreachable_reason(timeout, connect_timeout=0.5) == "no answer within 0.5 s"
    assert unreachable_reason(redis.exceptions.TimeoutError()) == "no answer within 2 s"
    unknown = socket.gaierror(-2, "Name or service not known")
    assert unreachable_reason(_chained(redis.exceptions.ConnectionError(), unknown)) == (
        "cannot resolve the host: Name or service not known"
    )
    refused = ConnectionRefusedError(111, "Connection refused")
    assert unreachable_reason(_chained(redis.exceptions.ConnectionError(), refused)) == (
        "Connection refused"
    )
    assert unreachable_reason(redis.exceptions.ConnectionError("Closed by server.")) == (
        "Closed by server"
    )
    assert unreachable_reason(redis.exceptions.ConnectionError()) == "ConnectionError"
