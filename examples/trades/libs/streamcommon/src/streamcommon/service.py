"""The frame of a service's main(): SIGTERM, one-line errors and exit codes.

Exit codes: 0 done (or stopped by SIGTERM), 2 a ServiceError or a broker that
cannot be reached or refuses (one line on stderr, no traceback), 130
interrupted by Ctrl-C.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

import redis

from streamcommon.broker import unreachable_reason
from streamcommon.errors import ServiceError
from streamcommon.settings import Address


class BrokerSettings(Protocol):
    @property
    def broker(self) -> Address: ...


S = TypeVar("S", bound=BrokerSettings)


def say(line: str) -> None:
    """Print one line of progress on stdout at once."""
    print(line, flush=True)


def run_service(name: str, load: Callable[[], S], work: Callable[[S, threading.Event], str]) -> int:
    """Load the settings, do the work, print the line it returns; the exit code.

    ``work(settings, stop)`` gets an event that SIGTERM sets (when called from
    the main thread) and returns the closing summary line. Errors are printed
    as ``NAME: ...`` on stderr.
    """
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    settings = None
    try:
        settings = load()
        summary = work(settings, stop)
    except ServiceError as exc:
        print(f"{name}: {exc}", file=sys.stderr, flush=True)
        return 2
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        assert settings is not None
        print(
            f"{name}: cannot reach the broker at {settings.broker} ({unreachable_reason(exc)}); "
            "set BROKER_ADDRESS",
            file=sys.stderr,
            flush=True,
        )
        return 2
    except redis.exceptions.RedisError as exc:
        assert settings is not None
        print(f"{name}: the broker at {settings.broker} refused: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    say(summary)
    return 0
