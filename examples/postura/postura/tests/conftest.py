"""Shared fixtures: test media made on the spot.

No media is downloaded or stored in the repository:
- a synthetic image is drawn with OpenCV (no person in it);
- a photograph of a person comes from the sample data that matplotlib (a
  dependency of mediapipe) ships: grace_hopper.jpg;
- videos are made with the ffmpeg binary from its lavfi test source, or by
  looping that photograph.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        pytest.fail("the ffmpeg binary is required (Debian package: ffmpeg)")
    return found


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def person_image(media_dir: Path) -> Path:
    from matplotlib import cbook

    source = Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    target = media_dir / "person.jpg"
    shutil.copyfile(source, target)
    return target


@pytest.fixture(scope="session")
def synthetic_image(media_dir: Path) -> Path:
    image = np.full((360, 480, 3), (235, 225, 210), dtype=np.uint8)
    cv2.rectangle(image, (40, 40), (200, 160), (40, 90, 200), thickness=-1)
    cv2.circle(image, (340, 120), 60, (30, 160, 60), thickness=-1)
    cv2.line(image, (20, 300), (460, 260), (0, 0, 0), thickness=4)
    cv2.putText(image, "postura", (150, 230), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (20, 20, 20), 3)
    target = media_dir / "shapes.png"
    assert cv2.imwrite(str(target), image)
    return target


def _run_ffmpeg(ffmpeg: str, args: list[str]) -> None:
    subprocess.run(
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="session")
def testsrc_video(ffmpeg: str, media_dir: Path) -> Path:
    """3 s of ffmpeg's test pattern at 25 fps (no person)."""
    target = media_dir / "testsrc.mp4"
    _run_ffmpeg(
        ffmpeg,
        ["-f", "lavfi", "-i", "testsrc=duration=3:size=320x240:rate=25",
         "-pix_fmt", "yuv420p", str(target)],
    )
    return target


@pytest.fixture(scope="session")
def person_video(ffmpeg: str, media_dir: Path, person_image: Path) -> Path:
    """2 s of the person photograph, looped at 10 fps."""
    target = media_dir / "person.mp4"
    _run_ffmpeg(
        ffmpeg,
        ["-loop", "1", "-framerate", "10", "-i", str(person_image), "-t", "2",
         "-pix_fmt", "yuv420p", str(target)],
    )
    return target
