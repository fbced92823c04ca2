"""The postura-batch console script, run as a subprocess like the container runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import env_with_bin, script

LANDMARK_KEYS = {"name", "x", "y", "z", "visibility"}
METRIC_KEYS = {"shoulder_tilt_deg", "hip_tilt_deg", "torso_lean_deg"}


def run_batch(*args: str, cmd: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        (cmd or [script("postura-batch")]) + list(args),
        capture_output=True,
        text=True,
        timeout=300,
        env=env_with_bin(),
    )


def analyze(tmp_path: Path, source: Path, *extra: str) -> dict:
    output = tmp_path / "out" / "report.json"  # parent created by the CLI
    proc = run_batch("--input", str(source), "--output", str(output), *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(output.read_text())


def test_image_with_person(tmp_path, person_image):
    report = analyze(tmp_path, person_image)
    assert report["file"] == str(person_image)
    assert report["kind"] == "image"
    assert report["sample_fps"] is None
    assert report["model"]["name"] == "mediapipe-blazepose"
    assert report["model"]["model_complexity"] == 1
    assert report["frames_processed"] == 1
    assert report["frames_with_person"] == 1
    (frame,) = report["frames"]
    assert frame["index"] == 0 and frame["timestamp_s"] is None
    assert (frame["width"], frame["height"]) == (512, 600)
    assert frame["person_found"] is True
    landmarks = frame["landmarks"]
    assert len(landmarks) == 33
    assert all(set(lm) == LANDMARK_KEYS for lm in landmarks)
    assert landmarks[0]["name"] == "nose"
    assert landmarks[11]["name"] == "left_shoulder"
    assert landmarks[12]["name"] == "right_shoulder"
    # A portrait: head above shoulders, shoulders clearly seen.
    assert landmarks[0]["y"] < landmarks[11]["y"]
    assert landmarks[11]["visibility"] > 0.5 and landmarks[12]["visibility"] > 0.5
    assert set(frame["metrics"]) == METRIC_KEYS
    assert isinstance(frame["metrics"]["shoulder_tilt_deg"], float)
    assert abs(frame["metrics"]["shoulder_tilt_deg"]) < 20


def test_image_without_person(tmp_path, synthetic_image):
    report = analyze(tmp_path, synthetic_image)
    assert report["kind"] == "image"
    assert report["frames_processed"] == 1
    assert report["frames_with_person"] == 0
    (frame,) = report["frames"]
    assert (frame["width"], frame["height"]) == (480, 360)
    assert frame["person_found"] is False
    assert frame["landmarks"] is None
    assert frame["metrics"] is None


def test_video_is_sampled_at_two_frames_per_second(tmp_path, testsrc_video):
    report = analyze(tmp_path, testsrc_video)
    assert report["kind"] == "video"
    assert report["sample_fps"] == 2.0
    assert report["frames_processed"] == 6  # 3 s at 2 fps
    assert [f["index"] for f in report["frames"]] == list(range(6))
    assert [f["timestamp_s"] for f in report["frames"]] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert all((f["width"], f["height"]) == (320, 240) for f in report["frames"])
    assert report["frames_with_person"] == 0


def test_video_with_person_fps_and_max_frames(tmp_path, person_video):
    report = analyze(tmp_path, person_video, "--fps", "1")
    assert report["frames_processed"] == 2  # 2 s at 1 fps
    assert report["frames_with_person"] == 2
    assert all(len(f["landmarks"]) == 33 for f in report["frames"])

    report = analyze(tmp_path, person_video, "--max-frames", "3")
    assert report["frames_processed"] == 3


def test_output_to_stdout(synthetic_image):
    proc = run_batch("--input", str(synthetic_image), "--output", "-")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["frames_processed"] == 1


def test_python_dash_m_runs_the_same_cli(tmp_path, synthetic_image):
    import sys

    output = tmp_path / "m.json"
    proc = run_batch(
        "--input", str(synthetic_image), "--output", str(output),
        cmd=[sys.executable, "-m", "postura"],
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(output.read_text())["kind"] == "image"


def test_missing_input_fails_clearly(tmp_path):
    output = tmp_path / "report.json"
    proc = run_batch("--input", str(tmp_path / "nope.mp4"), "--output", str(output))
    assert proc.returncode == 1
    assert "input file not found" in proc.stderr
    assert "nope.mp4" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not output.exists()


def test_undecodable_image_fails_clearly(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    proc = run_batch("--input", str(bad), "--output", str(tmp_path / "r.json"))
    assert proc.returncode == 1
    assert "cannot decode image" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreadable_video_fails_clearly(tmp_path, ffmpeg):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x01 definitely not a video " * 20)
    proc = run_batch("--input", str(bad), "--output", str(tmp_path / "r.json"))
    assert proc.returncode == 1
    assert "ffmpeg cannot read" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_empty_and_directory_inputs_fail(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    proc = run_batch("--input", str(empty), "--output", str(tmp_path / "r.json"))
    assert proc.returncode == 1 and "input file is empty" in proc.stderr
    proc = run_batch("--input", str(tmp_path), "--output", str(tmp_path / "r.json"))
    assert proc.returncode == 1 and "not a regular file" in proc.stderr


def test_missing_arguments_are_usage_errors(tmp_path):
    proc = run_batch()
    assert proc.returncode == 2
    assert "--input is required" in proc.stderr
    proc = run_batch("--input", "x.png")
    assert proc.returncode == 2
    assert "--output is required" in proc.stderr
    proc = run_batch("--input", "x.png", "--output", "o.json", "--fps", "0")
    assert proc.returncode == 2


def test_input_and_output_from_environment(tmp_path, synthetic_image, monkeypatch):
    output = tmp_path / "env.json"
    monkeypatch.setenv("POSTURA_INPUT", str(synthetic_image))
    monkeypatch.setenv("POSTURA_OUTPUT", str(output))
    proc = run_batch()
    assert proc.returncode == 0, proc.stderr
    assert json.loads(output.read_text())["file"] == str(synthetic_image)


def _can_unshare_network() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    return subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare_network(), reason="needs `unshare -n` (root)")
def test_works_without_network(tmp_path, person_video):
    """Nothing is downloaded at run time: the batch runs in a namespace with no network."""
    output = tmp_path / "offline.json"
    proc = run_batch(
        "--input", str(person_video), "--output", str(output),
        cmd=["unshare", "-n", script("postura-batch")],
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(output.read_text())
    assert report["frames_processed"] == 4
    assert report["frames_with_person"] == 4
