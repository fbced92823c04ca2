"""The publisher's checkpoint: STATE_DIR/checkpoint.json.

It holds the id of the last trade published and how many this publisher has
published. It is replaced atomically (a temporary file in the same directory,
flushed, then os.replace), so a crash leaves either the old or the new file,
never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from trades.errors import TradesError

SERVICE = "trades"
FILENAME = "checkpoint.json"


@dataclass(frozen=True)
class Checkpoint:
    last_id: int = 0
    count: int = 0


def ensure_state_dir(state_dir: Path) -> None:
    """Create the state directory if needed and prove it is writable."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=state_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise TradesError(
            f"state directory {state_dir} is not writable ({reason}); set STATE_DIR"
        ) from None


def _nonneg_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def load_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint at ``path``, or an empty one when there is no file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Checkpoint()
    except OSError as exc:
        raise TradesError(f"cannot read checkpoint {path} ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise TradesError(
            f"checkpoint {path} is not valid JSON ({exc}); fix or remove it"
        ) from None
    if not isinstance(data, dict):
        raise TradesError(f"checkpoint {path} is not a JSON object; fix or remove it")
    service = data.get("service", SERVICE)
    if service != SERVICE:
        raise TradesError(
            f"checkpoint {path} belongs to the {service} service; "
            "give each service its own STATE_DIR"
        )
    last_id, count = data.get("last_id"), data.get("count")
    if not _nonneg_int(last_id) or not _nonneg_int(count):
        raise TradesError(
            f"checkpoint {path} needs whole numbers last_id and count; fix or remove it"
        )
    return Checkpoint(last_id=last_id, count=count)


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write the checkpoint atomically: temporary file, fsync, os.replace."""
    data = {"service": SERVICE, "last_id": checkpoint.last_id, "count": checkpoint.count}
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    try:
        fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise TradesError(f"cannot write checkpoint in {path.parent} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise TradesError(f"cannot write checkpoint {path} ({exc.strerror})") from None
        raise
    # Make the rename itself durable where the platform allows it.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
