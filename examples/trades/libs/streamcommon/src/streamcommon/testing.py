"""pytest fixtures and helpers for the services' tests (needs pytest: the dev group).

A test folder's conftest.py imports the fixtures it wants::

    from streamcommon.testing import broker, redis_server  # noqa: F401

``redis_server`` starts a real redis-server once per test session with
subprocess (no persistence, loopback only, a free port) and stops it by its
own pid. Without redis-server on the PATH the tests that use it are skipped
with the reason. ``env`` needs an ``env_names`` fixture from the conftest: the
variables the service reads besides the ones streamcommon.settings reads.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis


def free_port() -> int:
    """A TCP port on 127.0.0.1 where nothing listens right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(binary: str, workdir: Path) -> tuple[subprocess.Popen, int]:
    for _attempt in range(3):
        port = free_port()
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
    """(address, client) of an emptied broker; the client decodes replies to str."""
    host, port = redis_server.rsplit(":", 1)
    client = redis.Redis(host=host, port=int(port), decode_responses=True)
    client.flushall()
    yield redis_server, client
    client.close()


@pytest.fixture
def closed_address() -> str:
    """A loopback HOST:PORT where nothing listens."""
    return f"127.0.0.1:{free_port()}"


@pytest.fixture
def state_dir(tmp_path) -> Path:
    """The service's STATE_DIR for one test: a folder not created yet."""
    return tmp_path / "state"


@pytest.fixture
def env(monkeypatch, state_dir, env_names):
    """Clear BROKER_ADDRESS, KAFKA_BROKER_ADDRESS and the service's ``env_names``,
    point STATE_DIR at ``state_dir``, and return a function that sets more of them
    (``env(TRADES_COUNT=3)``). Scripts the test starts inherit them."""
    for name in ("BROKER_ADDRESS", "KAFKA_BROKER_ADDRESS", "STATE_DIR", *env_names):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STATE_DIR", str(state_dir))

    def set_env(**values: object) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, str(value))

    return set_env


def run_script(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python SCRIPT ARGS``, the script run by path as the container runs it; 30 s at most."""
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )


@contextlib.contextmanager
def running_script(script: Path, *args: str, cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """``python SCRIPT ARGS`` in the background, stdout and stderr piped; killed on
    the way out if it is still running."""
    proc = subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Poll ``predicate`` every 50 ms until it is true (True) or ``seconds`` pass (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
