"""The publisher's checkpoint: STATE_DIR/checkpoint.json.

It holds the id of the last trade published and how many this publisher has
published. streamcommon.checkpoint reads the file and replaces it atomically;
this module says what is in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamcommon.checkpoint import is_count, read_checkpoint, write_checkpoint
from trades.errors import TradesError

SERVICE = "trades"


@dataclass(frozen=True)
class Checkpoint:
    last_id: int = 0
    count: int = 0


def load_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint at ``path``, or an empty one when there is no file yet."""
    data = read_checkpoint(path, SERVICE)
    if data is None:
        return Checkpoint()
    last_id, count = data.get("last_id"), data.get("count")
    if not is_count(last_id) or not is_count(count):
        raise TradesError(
            f"checkpoint {path} needs whole numbers last_id and count; fix or remove it"
        )
    return Checkpoint(last_id=last_id, count=count)


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write the checkpoint atomically (see streamcommon.checkpoint)."""
    write_checkpoint(path, SERVICE, {"last_id": checkpoint.last_id, "count": checkpoint.count})
