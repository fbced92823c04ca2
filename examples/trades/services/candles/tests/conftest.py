"""Fixtures: a real redis-server on 127.0.0.1 and a clean environment for main().

The server is started once per test session with subprocess (no persistence,
loopback only, a free port) and stopped by its own pid. Without redis-server
installed the broker tests are skipped with the reason.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

SERVICE_DIR = Path(__file__).resolve().parent.parent

ENV_NAMES = (
    "BROKER_ADDRESS",
    "KAFKA_BROKER_ADDRESS",
    "STATE_DIR",
    "TRADES_TOPIC",
    "CANDLES_TOPIC",
    "CANDLE_SECONDS",
    "CANDLES_BATCH_SIZE",
    "CANDLES_FOLLOW",
    "CANDLES_POLL_SECONDS",
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(binary: str, workdir: Path) -> tuple[subprocess.Popen, int]:
    for _attempt in range(3):
        port = _free_port()
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                client.ping()
                client.close()
                return proc, port
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=5)
    raise RuntimeError("redis-server did not start on 127.0.0.1")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """Address HOST:PORT of a redis-server run for this test session."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    proc, port = _start(binary, tmp_path_factory.mktemp("redis"))
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def broker(redis_server):
    """(address, client) of an emptied broker."""
    host, port = redis_server.rsplit(":", 1)
    client = redis.Redis(host=host, port=int(port), decode_responses=True)
    client.flushall()
    yield redis_server, client
    client.close()


@pytest.fixture
def closed_address() -> str:
    """A loopback HOST:PORT where nothing listens."""
    return f"127.0.0.1:{_free_port()}"


@pytest.fixture
def main_py() -> Path:
    return SERVICE_DIR / "src" / "candles" / "main.py"


@pytest.fixture
def state_dir(tmp_path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def env(monkeypatch, state_dir):
    """Clear the service's variables, point STATE_DIR at a temporary folder, and
    return a function that sets more of them."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STATE_DIR", str(state_dir))

    def set_env(**values):
        for key, value in values.items():
            monkeypatch.setenv(key, str(value))

    return set_env
