"""A tiny stand-in for the allocator on 127.0.0.1, and a port nobody listens on."""

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FakeAllocator(ThreadingHTTPServer):
    """Speaks the allocator's /vms/request and /vms/<name>/in-use like app.py."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.vms = {"vm-1": None, "vm-2": None}
        self.in_use = {name: False for name in self.vms}
        self.busy_answers = 0  # answer this many /vms/request with 503 first
        self.requests = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        server = self.server
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        server.requests.append((self.path, body))
        match = re.fullmatch(r"/vms/([^/]+)/in-use", self.path)
        if self.path == "/vms/request":
            if not isinstance(body, dict) or not body.get("user"):
                return self.reply(400, {"error": "user is required"})
            if server.busy_answers > 0:
                server.busy_answers -= 1
                return self.reply(503, {"error": "no VM is free"})
            for name, holder in sorted(server.vms.items()):
                if holder is None:
                    server.vms[name] = body["user"]
                    return self.reply(200, {"vm": name, "user": body["user"]})
            return self.reply(503, {"error": "no VM is free"})
        if match:
            name = match.group(1)
            if name not in server.vms:
                return self.reply(404, {"error": f"unknown VM: {name}"})
            in_use = body.get("in_use") if isinstance(body, dict) else None
            if not isinstance(in_use, bool):
                return self.reply(400, {"error": "in_use (true or false) is required"})
            server.in_use[name] = in_use
            return self.reply(200, {"vm": name, "in_use": in_use})
        return self.reply(404, {"error": "not found"})


@pytest.fixture
def allocator():
    server = FakeAllocator()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url():
    """The URL of a loopback port that was free a moment ago: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_url():
    """The URL of a loopback port that accepts connections but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        port = sock.getsockname()[1]
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No setting from the environment leaks into a test; no proxy for loopback."""
    for name in ("ALLOCATOR_URL", "CLIENT_USER", "VM_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
