"""postura-batch: pose estimation on one image or video file, written as JSON.

Exit status: 0 on success, 1 when the input cannot be read or the output cannot
be written, 2 on bad command-line usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

from .media import DEFAULT_FPS, InputError, is_image_path, iter_video_frames, read_image

PROG = "postura-batch"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Estimate body pose (MediaPipe BlazePose, 33 landmarks) on an image or a "
            "video and write the landmarks and posture metrics as JSON. A video is "
            "sampled with ffmpeg at --fps frames per second."
        ),
    )
    parser.add_argument(
        "--input",
        default=os.environ.get("POSTURA_INPUT"),
        help="image or video file (default: $POSTURA_INPUT)",
    )
    parser.add_argument(
        "--output",
        default=os.environ.get("POSTURA_OUTPUT"),
        help="JSON file to write, '-' for standard output (default: $POSTURA_OUTPUT)",
    )
    parser.add_argument(
        "--fps",
        type=_positive_float,
        default=DEFAULT_FPS,
        help=f"frames per second sampled from a video (default: {DEFAULT_FPS:g})",
    )
    parser.add_argument(
        "--max-frames",
        type=_positive_int,
        default=None,
        help="stop after this many sampled video frames (default: no limit)",
    )
    return parser


def analyze_path(
    path: Path, fps: float = DEFAULT_FPS, max_frames: int | None = None
) -> dict[str, Any]:
    """Run pose estimation on an image or video file and return the report."""
    from .pose import PoseEstimator, analyze_frame, build_report

    if is_image_path(path):
        image = read_image(path)  # fails fast, before the model is loaded
        with PoseEstimator() as estimator:
            frames = [analyze_frame(estimator, image, 0, None)]
            return build_report(str(path), "image", None, estimator, frames)

    frame_iter = iter_video_frames(path, fps=fps, max_frames=max_frames)
    first = next(frame_iter)  # ffmpeg has run: a bad input fails here
    with PoseEstimator() as estimator:
        frames = [analyze_frame(estimator, first, 0, 0.0)]
        for index, frame in enumerate(frame_iter, start=1):
            frames.append(analyze_frame(estimator, frame, index, round(index / fps, 3)))
        return build_report(str(path), "video", fps, estimator, frames)


def write_json(report: dict[str, Any], output: str) -> None:
    text = json.dumps(report, indent=2) + "\n"
    if output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write next to the target and rename, so a reader never sees half a file.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.input:
        parser.error("--input is required (or set POSTURA_INPUT)")
    if not args.output:
        parser.error("--output is required (or set POSTURA_OUTPUT)")

    path = Path(args.input)
    try:
        report = analyze_path(path, fps=args.fps, max_frames=args.max_frames)
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    try:
        write_json(report, args.output)
    except OSError as exc:
        print(f"{PROG}: error: cannot write {args.output}: {exc}", file=sys.stderr)
        return 1
    if args.output != "-":
        print(
            f"{PROG}: {report['kind']} {path}: {report['frames_processed']} frame(s), "
            f"person found in {report['frames_with_person']}; wrote {args.output}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
