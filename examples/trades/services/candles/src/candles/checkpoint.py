"""The aggregator's checkpoint: STATE_DIR/checkpoint.json.

It holds the id of the last trades-stream entry read, the running totals and
the candles still open, so a restart continues exactly where the last run
stopped. streamcommon.checkpoint reads the file and replaces it atomically;
this module says what is in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from candles.errors import CandlesError
from streamcommon.checkpoint import is_count, read_checkpoint, write_checkpoint

SERVICE = "candles"
STREAM_ID = re.compile(r"^\d+-\d+$")
AGGREGATOR_KEYS = ("candle_seconds", "window", "open", "late")


@dataclass(frozen=True)
class Checkpoint:
    last_id: str = "0-0"
    trades: int = 0
    candles: int = 0
    skipped: int = 0
    aggregator: dict[str, Any] = field(default_factory=dict)


def load_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint at ``path``, or an empty one when there is no file yet."""
    data = read_checkpoint(path, SERVICE)
    if data is None:
        return Checkpoint()
    last_id = data.get("last_id")
    if not isinstance(last_id, str) or not STREAM_ID.match(last_id):
        raise CandlesError(f"checkpoint {path} needs a stream id last_id; fix or remove it")
    counts = {k: data.get(k, 0) for k in ("trades", "candles", "skipped")}
    if not all(is_count(v) for v in counts.values()):
        raise CandlesError(
            f"checkpoint {path} needs whole numbers trades, candles, skipped; fix or remove it"
        )
    aggregator = {k: data[k] for k in AGGREGATOR_KEYS if k in data}
    return Checkpoint(last_id=last_id, aggregator=aggregator, **counts)


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write the checkpoint atomically (see streamcommon.checkpoint)."""
    fields = {
        "last_id": checkpoint.last_id,
        "trades": checkpoint.trades,
        "candles": checkpoint.candles,
        "skipped": checkpoint.skipped,
        **checkpoint.aggregator,
    }
    write_checkpoint(path, SERVICE, fields)
