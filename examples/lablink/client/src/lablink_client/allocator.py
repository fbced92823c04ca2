"""Talking to the allocator's HTTP API with the stdlib only."""

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_URL = "http://127.0.0.1:5000"
DEFAULT_TIMEOUT = 10.0


class Unreachable(Exception):
    """The allocator could not be reached (or its URL is unusable)."""


def seconds(text: str) -> float:
    """argparse type: a number of seconds greater than 0."""
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text}")
    return value


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """The --url and --timeout options every script takes."""
    parser.add_argument(
        "--url",
        help=f"the allocator's URL (default: $ALLOCATOR_URL, else {DEFAULT_URL})",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=DEFAULT_TIMEOUT,
        help=f"seconds before a request is given up (default: {DEFAULT_TIMEOUT:g})",
    )


def base_url(url: str | None = None) -> str:
    """The allocator's URL: url, else $ALLOCATOR_URL, else the default."""
    return (url or os.environ.get("ALLOCATOR_URL") or DEFAULT_URL).rstrip("/")


def post_json(url: str, payload: dict, timeout: float) -> tuple[int, dict]:
    """POST payload as JSON; return the HTTP status and the decoded answer.

    HTTP errors are returned, not raised; a network failure raises Unreachable.
    """
    data = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    try:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("it must start with http:// or https://")
        req = urllib.request.Request(url, data=data, headers=headers, method="POST")
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, _decode(res.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, _decode(exc.read())
    except urllib.error.URLError as exc:
        raise Unreachable(
            f"cannot reach the allocator at {url}: {_reason(exc.reason)}"
        ) from exc
    except OSError as exc:  # e.g. a timeout while reading the answer
        raise Unreachable(
            f"cannot reach the allocator at {url}: {_reason(exc)}"
        ) from exc
    except ValueError as exc:
        raise Unreachable(f"invalid allocator URL {url!r}: {exc}") from exc


def error_text(status: int, body: dict) -> str:
    """The allocator's error message for an HTTP error answer."""
    return f"HTTP {status}: {body.get('error') or 'no error message'}"


def _decode(raw: bytes) -> dict:
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        return {"error": text.strip()[:200]}
    return body if isinstance(body, dict) else {"error": text.strip()[:200]}


def _reason(reason) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__
