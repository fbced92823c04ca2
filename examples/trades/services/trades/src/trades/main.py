"""trades: publish trades to the broker, resuming after the last checkpointed trade.

Run as ``python services/trades/src/trades/main.py`` (how the container starts
it), as the ``trades`` console script, or as ``python -m trades.main``.
Exit codes: 0 done, 2 a problem with the settings, the state directory, the
source or the broker (one line on stderr), 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    # Run by path, as the image does: import the package `trades`, not the files beside this one.
    from streamcommon.script import fix_script_path

    fix_script_path(__file__)

import argparse  # noqa: E402
import threading  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from streamcommon.broker import connect  # noqa: E402
from streamcommon.checkpoint import checkpoint_path  # noqa: E402
from streamcommon.service import run_service, say  # noqa: E402
from trades.checkpoint import Checkpoint, load_checkpoint, save_checkpoint  # noqa: E402
from trades.publisher import publish, published_after  # noqa: E402
from trades.settings import Settings, load_settings  # noqa: E402
from trades.sources import open_source  # noqa: E402


@dataclass(frozen=True)
class Summary:
    published: int
    last_id: int
    total: int


def run(
    settings: Settings,
    stop: threading.Event | None = None,
    log: Callable[[str], None] = say,
) -> Summary:
    """Publish everything the source has past the checkpoint; keep polling when following."""
    stop = stop or threading.Event()
    path = checkpoint_path(settings.state_dir)
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


def _run_and_sum_up(settings: Settings, stop: threading.Event) -> str:
    summary = run(settings, stop)
    return (
        f"trades: published {summary.published} trades to {settings.topic} "
        f"at {settings.broker} (last id {summary.last_id})"
    )


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
    return run_service("trades", lambda: load_settings(follow=args.follow), _run_and_sum_up)


if __name__ == "__main__":
    sys.exit(main())
