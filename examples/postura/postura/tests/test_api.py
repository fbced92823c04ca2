"""postura-api, started as a subprocess on 127.0.0.1 and a free port."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from helpers import env_with_bin, script

STARTUP_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(url: str, data: bytes | None = None, method: str = "GET") -> tuple[int, dict]:
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/octet-stream")
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


class Server:
    def __init__(self, proc: subprocess.Popen, base: str) -> None:
        self.proc = proc
        self.base = base


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    port = free_port()
    env = env_with_bin()
    env.update(POSTURA_HOST="127.0.0.1", POSTURA_PORT=str(port), POSTURA_MAX_BYTES="2000000")
    log = tmp_path_factory.mktemp("api") / "stderr.log"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen([script("postura-api")], env=env, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"postura-api exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if request(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"postura-api did not answer in {STARTUP_TIMEOUT_S}s:\n{log.read_text()}")
            time.sleep(0.2)
        yield Server(proc, base)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_healthz(server):
    assert request(server.base + "/healthz") == (200, {"status": "ok"})


def test_analyze_returns_the_batch_report(server, person_image, tmp_path):
    status, report = request(
        server.base + "/analyze?name=person.jpg", data=person_image.read_bytes(), method="POST"
    )
    assert status == 200
    assert report["file"] == "person.jpg"
    assert report["kind"] == "image"
    assert report["frames_processed"] == 1
    assert report["frames_with_person"] == 1
    assert len(report["frames"][0]["landmarks"]) == 33

    # The same document postura-batch writes for that image, bar the "file" field.
    output = tmp_path / "batch.json"
    subprocess.run(
        [script("postura-batch"), "--input", str(person_image), "--output", str(output)],
        check=True, capture_output=True, timeout=300, env=env_with_bin(),
    )
    batch = json.loads(output.read_text())
    batch["file"] = report["file"]
    assert report == batch


def test_analyze_image_without_person(server, synthetic_image):
    status, report = request(
        server.base + "/analyze", data=synthetic_image.read_bytes(), method="POST"
    )
    assert status == 200
    assert report["file"] == "upload"
    assert report["frames"][0]["person_found"] is False
    assert report["frames"][0]["landmarks"] is None


def test_analyze_rejects_bad_bodies(server):
    status, body = request(server.base + "/analyze", data=b"not an image", method="POST")
    assert status == 400 and "decode" in body["error"]
    status, body = request(server.base + "/analyze", data=b"", method="POST")
    assert status == 400 and "empty" in body["error"]
    # Over POSTURA_MAX_BYTES: refused from the header alone, before any body is sent.
    url = urlsplit(server.base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest("POST", "/analyze")
        conn.putheader("Content-Length", "2000001")
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 413
        assert "exceeds the limit" in json.loads(response.read())["error"]
    finally:
        conn.close()


def test_unknown_endpoints_are_404(server):
    assert request(server.base + "/nope")[0] == 404
    assert request(server.base + "/healthz", data=b"x", method="POST")[0] == 404


def test_sigterm_stops_cleanly_with_exit_0(server):
    # Runs last in this module: it stops the shared server.
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=15) == 0
    with pytest.raises(OSError):
        request(server.base + "/healthz")


def test_bad_port_setting_is_an_error():
    env = env_with_bin()
    env["POSTURA_PORT"] = "eighty"
    proc = subprocess.run([script("postura-api")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "POSTURA_PORT must be an integer" in proc.stderr
