"""scripts/entrypoint.sh, run with /bin/sh and the installed console scripts on PATH."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers import env_with_bin

ENTRYPOINT = Path(__file__).resolve().parent.parent / "scripts" / "entrypoint.sh"


def run(*args: str, mode: str | None = None) -> subprocess.CompletedProcess:
    env = env_with_bin()
    env.pop("MODE", None)
    if mode is not None:
        env["MODE"] = mode
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_default_mode_is_batch_and_passes_arguments(tmp_path):
    proc = run("--input", str(tmp_path / "missing.png"), "--output", str(tmp_path / "o.json"))
    assert proc.returncode == 1
    assert "postura-batch: error: input file not found" in proc.stderr


def test_mode_as_first_argument(tmp_path, synthetic_image):
    output = tmp_path / "o.json"
    proc = run("MODE=batch", "--input", str(synthetic_image), "--output", str(output))
    assert proc.returncode == 0, proc.stderr
    assert output.exists()

    proc = run("MODE=api", "--help")
    assert proc.returncode == 0
    assert "postura-api" in proc.stdout


def test_mode_from_environment():
    proc = run("--help", mode="api")
    assert proc.returncode == 0 and "usage: postura-api" in proc.stdout
    proc = run("--help", mode="batch")
    assert proc.returncode == 0 and "usage: postura-batch" in proc.stdout


def test_argument_wins_over_environment():
    proc = run("MODE=batch", "--help", mode="api")
    assert proc.returncode == 0 and "usage: postura-batch" in proc.stdout


def test_unknown_mode_exits_2():
    proc = run(mode="train")
    assert proc.returncode == 2
    assert "unknown MODE 'train'" in proc.stderr
    proc = run("MODE=serve")
    assert proc.returncode == 2
    assert "unknown MODE 'serve'" in proc.stderr


def test_entrypoint_is_executable():
    assert ENTRYPOINT.stat().st_mode & 0o111
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh\n")
