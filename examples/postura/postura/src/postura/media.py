"""Reading inputs: still images with OpenCV, videos through the ffmpeg binary."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
DEFAULT_FPS = 2.0


class InputError(Exception):
    """The input is missing, unreadable, or not an image or video."""


def ffmpeg_binary() -> str:
    """Path of the ffmpeg executable ($POSTURA_FFMPEG, else ffmpeg on PATH)."""
    name = os.environ.get("POSTURA_FFMPEG", "ffmpeg")
    found = shutil.which(name)
    if found is None:
        raise InputError(
            f"ffmpeg executable {name!r} not found on PATH; it is needed to read "
            "videos (Debian package: ffmpeg)"
        )
    return found


def check_readable(path: Path) -> None:
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    if not path.is_file():
        raise InputError(f"input is not a regular file: {path}")
    if not os.access(path, os.R_OK):
        raise InputError(f"input file is not readable: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"input file is empty: {path}")


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def decode_image_bytes(data: bytes) -> np.ndarray:
    """Decode an encoded image (JPEG, PNG, ...) into a BGR array."""
    import cv2

    if not data:
        raise InputError("empty image data")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError("data is not an image OpenCV can decode")
    return image


def read_image(path: Path) -> np.ndarray:
    check_readable(path)
    try:
        return decode_image_bytes(path.read_bytes())
    except InputError as exc:
        raise InputError(f"cannot decode image {path}: {exc}") from None


def iter_video_frames(
    path: Path, fps: float = DEFAULT_FPS, max_frames: int | None = None
) -> Iterator[np.ndarray]:
    """Yield BGR frames sampled at ``fps`` frames per second.

    ffmpeg writes the sampled frames as PNG files into a temporary directory
    (under $TMPDIR), which is removed afterwards, and OpenCV reads them back.
    """
    import cv2

    check_readable(path)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    ffmpeg = ffmpeg_binary()
    with tempfile.TemporaryDirectory(prefix="postura-frames-") as tmp:
        argv = [
            ffmpeg,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-i",
            str(path),
            "-an",
            "-vf",
            f"fps={fps:g}",
        ]
        if max_frames is not None:
            argv += ["-frames:v", str(max_frames)]
        argv.append(os.path.join(tmp, "frame_%06d.png"))
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if proc.returncode != 0:
            detail = proc.stderr.strip().splitlines()
            reason = detail[-1] if detail else f"exit status {proc.returncode}"
            raise InputError(f"ffmpeg cannot read {path} as a video: {reason}")
        names = sorted(n for n in os.listdir(tmp) if n.endswith(".png"))
        if not names:
            raise InputError(f"ffmpeg found no video frames in {path}")
        for name in names:
            frame = cv2.imread(os.path.join(tmp, name), cv2.IMREAD_COLOR)
            if frame is None:
                raise InputError(f"cannot read frame {name} that ffmpeg extracted")
            yield frame
