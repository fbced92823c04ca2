"""postura-api: HTTP service around the pose estimator (Python standard library only).

Endpoints:
  GET  /healthz  -> 200 {"status": "ok"} (the model is loaded before the port opens)
  POST /analyze  -> body: an encoded image (JPEG, PNG, ...); answer: the same JSON
                    document postura-batch writes for an image. ?name=... sets
                    its "file" field (default "upload").

Settings: $POSTURA_HOST (default 0.0.0.0), $POSTURA_PORT (default 8000),
$POSTURA_MAX_BYTES (largest accepted body, default 20 MiB); --host/--port win
over the environment. SIGTERM and SIGINT stop the server cleanly with exit 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Sequence
from urllib.parse import parse_qs, urlsplit

from . import __version__
from .media import InputError, decode_image_bytes

PROG = "postura-api"
DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = 8000
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


class PosturaServer(ThreadingHTTPServer):
    daemon_threads = True
    # Rebinding right after a restart must not fail on TIME_WAIT sockets.
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], estimator: Any, max_bytes: int) -> None:
        super().__init__(address, Handler)
        self.estimator = estimator
        self.max_bytes = max_bytes


class Handler(BaseHTTPRequestHandler):
    server: PosturaServer
    server_version = f"postura/{__version__}"
    protocol_version = "HTTP/1.1"

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        body = (json.dumps(payload) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._send_json(status, {"error": message})

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/healthz":
            self._send_json(HTTPStatus.OK, {"status": "ok"})
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: GET {self.path}")

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/analyze":
            self.close_connection = True
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: POST {url.path}")
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self.close_connection = True
            self._error(HTTPStatus.LENGTH_REQUIRED, "Content-Length header is required")
            return
        try:
            length = int(length_header)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._error(HTTPStatus.BAD_REQUEST, "invalid Content-Length")
            return
        if length > self.server.max_bytes:
            self.close_connection = True
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body of {length} bytes exceeds the limit of {self.server.max_bytes}",
            )
            return
        data = self.rfile.read(length)
        if len(data) != length:
            self.close_connection = True
            self._error(HTTPStatus.BAD_REQUEST, "request body ended early")
            return
        try:
            image = decode_image_bytes(data)
        except InputError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return

        from .pose import analyze_frame, build_report

        name = parse_qs(url.query).get("name", ["upload"])[0]
        estimator = self.server.estimator
        frame = analyze_frame(estimator, image, 0, None)
        self._send_json(HTTPStatus.OK, build_report(name, "image", None, estimator, [frame]))

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{PROG}: {self.address_string()} {format % args}\n")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{PROG}: error: ${name} must be an integer, got {raw!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Postura pose-estimation HTTP API.")
    parser.add_argument("--host", default=None, help="bind address (default: $POSTURA_HOST or 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default: $POSTURA_PORT or 8000)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    host = args.host or os.environ.get("POSTURA_HOST") or DEFAULT_HOST
    port = args.port if args.port is not None else _env_int("POSTURA_PORT", DEFAULT_PORT)
    max_bytes = _env_int("POSTURA_MAX_BYTES", DEFAULT_MAX_BYTES)
    if not 0 <= port <= 65535:
        print(f"{PROG}: error: port out of range: {port}", file=sys.stderr)
        return 2

    stop_requested = threading.Event()
    server_box: list[PosturaServer] = []

    def request_stop(signum: int, _frame: object) -> None:
        stop_requested.set()
        if server_box:
            # shutdown() waits for serve_forever() to return, and serve_forever()
            # runs in this (the main) thread: call it from another thread.
            threading.Thread(target=server_box[0].shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    from .pose import PoseEstimator

    estimator = PoseEstimator()  # load the model before the port opens
    try:
        server = PosturaServer((host, port), estimator, max_bytes)
    except OSError as exc:
        print(f"{PROG}: error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        estimator.close()
        return 1
    server_box.append(server)
    bound_host, bound_port = server.server_address[:2]
    print(f"{PROG}: listening on http://{bound_host}:{bound_port}", file=sys.stderr, flush=True)
    try:
        if not stop_requested.is_set():
            server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        estimator.close()
    print(f"{PROG}: stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
