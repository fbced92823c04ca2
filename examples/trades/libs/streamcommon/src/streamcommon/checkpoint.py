"""A service's checkpoint file, STATE_DIR/checkpoint.json, and its state directory.

The file is one JSON object with a ``service`` field naming the service that
wrote it; what else it holds is the service's business. It is replaced
atomically (a temporary file in the same directory, flushed, then os.replace),
so a crash leaves either the old or the new file, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from streamcommon.errors import ServiceError

FILENAME = "checkpoint.json"


def ensure_state_dir(state_dir: Path) -> None:
    """Create the state directory if needed and prove it is writable."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=state_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ServiceError(
            f"state directory {state_dir} is not writable ({reason}); set STATE_DIR"
        ) from None


def checkpoint_path(state_dir: Path) -> Path:
    """STATE_DIR/checkpoint.json, once the state directory is there and writable."""
    ensure_state_dir(state_dir)
    return state_dir / FILENAME


def is_count(value: object) -> bool:
    """A whole number >= 0 in a checkpoint (JSON true and false are not)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_checkpoint(path: Path, service: str) -> dict[str, Any] | None:
    """The JSON object at ``path``, or None when there is no file yet.

    A file that cannot be read, is not a JSON object, or was written by another
    service is an error, never a silent fresh start. A file without a
    ``service`` field is taken as this service's.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ServiceError(f"cannot read checkpoint {path} ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ServiceError(
            f"checkpoint {path} is not valid JSON ({exc}); fix or remove it"
        ) from None
    if not isinstance(data, dict):
        raise ServiceError(f"checkpoint {path} is not a JSON object; fix or remove it")
    owner = data.get("service", service)
    if owner != service:
        raise ServiceError(
            f"checkpoint {path} belongs to the {owner} service; give each service its own STATE_DIR"
        )
    return data


def write_checkpoint(path: Path, service: str, fields: dict[str, Any]) -> None:
    """Write ``{"service": service, **fields}`` atomically: temporary file, fsync, os.replace."""
    data = {"service": service, **fields}
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    try:
        fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ServiceError(f"cannot write checkpoint in {path.parent} ({exc.strerror})") from None
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
            raise ServiceError(f"cannot write checkpoint {path} ({exc.strerror})") from None
        raise
    # Make the rename itself durable where the platform allows it.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
