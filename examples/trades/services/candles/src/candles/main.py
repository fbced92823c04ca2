"""candles: turn the trades stream into OHLCV candles, resuming from the checkpoint.

Run as ``python services/candles/src/candles/main.py`` (how the container starts
it), as the ``candles`` console script, or as ``python -m candles.main``.
Exit codes: 0 done, 2 a problem with the settings, the state directory or the
broker (one line on stderr), 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    # Run by path, as the image does: import the package `candles`, not the files beside this one.
    from streamcommon.script import fix_script_path

    fix_script_path(__file__)

import argparse  # noqa: E402
import threading  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from candles.aggregate import CandleAggregator, parse_trade_fields  # noqa: E402
from candles.checkpoint import Checkpoint, load_checkpoint, save_checkpoint  # noqa: E402
from candles.consumer import last_published_window, publish, read_trades  # noqa: E402
from candles.errors import CandlesError  # noqa: E402
from candles.settings import Settings, load_settings  # noqa: E402
from streamcommon.broker import connect  # noqa: E402
from streamcommon.checkpoint import checkpoint_path  # noqa: E402
from streamcommon.service import run_service, say  # noqa: E402


@dataclass(frozen=True)
class Summary:
    published: int
    read: int
    open: int
    last_id: str


def run(
    settings: Settings,
    stop: threading.Event | None = None,
    log: Callable[[str], None] = say,
) -> Summary:
    """Read the trades stream past the checkpoint, publish the candles that close.

    Without follow, stops once the stream has nothing more; with it, waits for
    new entries until ``stop`` is set.
    """
    stop = stop or threading.Event()
    path = checkpoint_path(settings.state_dir)
    checkpoint = load_checkpoint(path)
    try:
        aggregator = CandleAggregator.from_state(settings.candle_seconds, checkpoint.aggregator)
    except ValueError as exc:
        raise CandlesError(f"checkpoint {path} does not fit: {exc}; fix or remove it") from None

    client = connect(settings.broker, operation_timeout=settings.poll_seconds + 10)
    # A run that died after publishing candles but before writing its checkpoint
    # will close the same candles again; those already in the stream are skipped.
    published_upto = last_published_window(client, settings.candles_topic)
    if checkpoint.last_id != "0-0":
        log(f"candles: resuming after {settings.trades_topic} entry {checkpoint.last_id}")
    block_ms = int(settings.poll_seconds * 1000) if settings.follow else None
    read = published = 0
    late_before = aggregator.late
    skipped_before = checkpoint.skipped
    while not stop.is_set():
        entries = read_trades(
            client, settings.trades_topic, checkpoint.last_id, settings.batch_size, block_ms
        )
        if not entries:
            if settings.follow:
                continue
            break
        closed, skipped = [], 0
        for _entry_id, fields in entries:
            trade = parse_trade_fields(fields)
            if trade is None:
                skipped += 1
                continue
            closed.extend(aggregator.add(trade))
        fresh = [c for c in closed if published_upto is None or c.window_start > published_upto]
        if fresh:
            publish(client, settings.candles_topic, fresh)
            published_upto = fresh[-1].window_start
        checkpoint = Checkpoint(
            last_id=entries[-1][0],
            trades=checkpoint.trades + len(entries) - skipped,
            candles=checkpoint.candles + len(fresh),
            skipped=checkpoint.skipped + skipped,
            aggregator=aggregator.state(),
        )
        save_checkpoint(path, checkpoint)
        read += len(entries)
        published += len(fresh)
        log(
            f"candles: read {len(entries)} trades up to {checkpoint.last_id}, "
            f"published {len(fresh)} candles"
        )
    late = aggregator.late - late_before
    skipped = checkpoint.skipped - skipped_before
    if late or skipped:
        log(f"candles: dropped {late} late trades and {skipped} entries that were not trades")
    return Summary(
        published=published, read=read, open=len(aggregator.open), last_id=checkpoint.last_id
    )


def _run_and_sum_up(settings: Settings, stop: threading.Event) -> str:
    summary = run(settings, stop)
    return (
        f"candles: published {summary.published} candles to {settings.candles_topic} "
        f"at {settings.broker} (read {summary.read} trades from {settings.trades_topic}, "
        f"{summary.open} open, last id {summary.last_id})"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="candles",
        description="Aggregate the trades stream into OHLCV candles. Settings come from the "
        "environment (BROKER_ADDRESS, STATE_DIR, TRADES_TOPIC, CANDLES_TOPIC, CANDLE_SECONDS).",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="keep waiting for new trades until SIGTERM (same as CANDLES_FOLLOW=1)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_service("candles", lambda: load_settings(follow=args.follow), _run_and_sum_up)


if __name__ == "__main__":
    sys.exit(main())
