"""trades: publish trades to the broker, resuming after the last checkpointed trade.

Run as ``python services/trades/src/trades/main.py`` (how the container starts
it), as the ``trades`` console script, or as ``python -m trades.main``.
Exit codes: 0 done, 2 a problem with the settings, the state directory, the
source or the broker (one line on stderr), 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and not __package__:
    # Run by path, Python put this file's folder first on sys.path, where a
    # module of this package could hide a top-level one of the same name. Take
    # it off and import the package as `trades`: the installed one, or else
    # the source tree two folders up.
    _here = os.path.dirname(os.path.realpath(__file__))
    if sys.path and sys.path[0] and os.path.realpath(sys.path[0]) == _here:
        del sys.path[0]
    sys.path.append(os.path.dirname(_here))

import argparse  # noqa: E402
import signal  # noqa: E402
import threading  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import redis  # noqa: E402

from trades.checkpoint import (  # noqa: E402
    FILENAME,
    Checkpoint,
    ensure_state_dir,
    load_checkpoint,
    save_checkpoint,
)
from trades.errors import TradesError  # noqa: E402
from trades.publisher import connect, publish, published_after, unreachable_reason  # noqa: E402
from trades.settings import Settings, load_settings  # noqa: E402
from trades.sources import open_source  # noqa: E402


@dataclass(frozen=True)
class Summary:
    published: int
    last_id: int
    total: int


def _say(line: str) -> None:
    print(line, flush=True)


def run(
    settings: Settings,
    stop: threading.Event | None = None,
    log: Callable[[str], None] = _say,
) -> Summary:
    """Publish everything the source has past the checkpoint; keep polling when following."""
    stop = stop or threading.Event()
    ensure_state_dir(settings.state_dir)
    path = settings.state_dir / FILENAME
    checkpoint = load_checkpoint(path)
    source = open_source(settings.source, settings.count, settings.seed, settings.follow)
    try:
        client = connect(settings.broker)
        highest, found = published_after(
            client, settings.topic, checkpoint.last_id, settings.batch_size
        )
        if found:
            log(
                f"trades: {settings.topic} already holds {found} trades past the checkpoint "
                f"(up to id {highest}); resuming after them"
            )
            checkpoint = Checkpoint(last_id=highest, count=checkpoint.count + found)
            save_checkpoint(path, checkpoint)
        if checkpoint.last_id:
            log(f"trades: resuming after trade {checkpoint.last_id} from {source.description}")
        published = 0
        while not stop.is_set():
            batch = source.read(after=checkpoint.last_id, limit=settings.batch_size)
            if not batch:
                if not settings.follow:
                    break
                if stop.wait(settings.poll_seconds):
                    break
                source.poll()
                continue
            publish(client, settings.topic, batch)
            checkpoint = Checkpoint(last_id=batch[-1].id, count=checkpoint.count + len(batch))
            save_checkpoint(path, checkpoint)
            published += len(batch)
            log(
                f"trades: batch of {len(batch)} trades published "
                f"(ids {batch[0].id}..{batch[-1].id})"
            )
        return Summary(published=published, last_id=checkpoint.last_id, total=checkpoint.count)
    finally:
        source.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trades",
        description="Publish trades to the broker's stream. Settings come from the environment "
        "(BROKER_ADDRESS, STATE_DIR, TRADES_SOURCE, TRADES_COUNT, TRADES_TOPIC, ...).",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="keep polling the source for new trades until SIGTERM (same as TRADES_FOLLOW=1)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    settings = None
    try:
        settings = load_settings(follow=args.follow)
        summary = run(settings, stop)
    except TradesError as exc:
        print(f"trades: {exc}", file=sys.stderr, flush=True)
        return 2
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        assert settings is not None
        print(
            f"trades: cannot reach the broker at {settings.broker} ({unreachable_reason(exc)}); "
            "set BROKER_ADDRESS",
            file=sys.stderr,
            flush=True,
        )
        return 2
    except redis.exceptions.RedisError as exc:
        assert settings is not None
        print(f"trades: the broker at {settings.broker} refused: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("trades: interrupted", file=sys.stderr)
        return 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    _say(
        f"trades: published {summary.published} trades to {settings.topic} "
        f"at {settings.broker} (last id {summary.last_id})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
