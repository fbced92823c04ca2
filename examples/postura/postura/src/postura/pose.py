"""Pose estimation with MediaPipe BlazePose and the JSON report it feeds.

Only ``model_complexity=1`` ("full") is used: its model files
(pose_detection.tflite, pose_landmark_full.tflite) ship inside the mediapipe
wheel. Complexity 0 ("lite") and 2 ("heavy") would be downloaded on first use,
which must never happen here (the container runs with no network).
"""

from __future__ import annotations

import threading
from typing import Any, Iterable

import numpy as np

from .metrics import compute_metrics

MODEL_COMPLEXITY = 1


class PoseEstimator:
    """One BlazePose graph, used for independent still frames.

    ``static_image_mode=True`` makes every frame a fresh detection, so the
    result for a frame does not depend on the frames before it. MediaPipe's
    graph is not safe to call from several threads at once; ``estimate`` holds a
    lock so that an HTTP server with worker threads can share one estimator.
    """

    def __init__(self, min_detection_confidence: float = 0.5) -> None:
        # Imported here so that argument and input errors are reported without
        # paying for the mediapipe import first.
        import mediapipe as mp

        self._mp_version = mp.__version__
        self._landmark_names = [lm.name.lower() for lm in mp.solutions.pose.PoseLandmark]
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=True,
            model_complexity=MODEL_COMPLEXITY,
            enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
        )
        self._lock = threading.Lock()

    @property
    def model_info(self) -> dict[str, Any]:
        return {
            "name": "mediapipe-blazepose",
            "mediapipe_version": self._mp_version,
            "model_complexity": MODEL_COMPLEXITY,
        }

    def estimate(self, bgr: np.ndarray) -> list[dict[str, float | str]] | None:
        """The 33 landmarks of the most prominent person, or None if none is found."""
        import cv2

        if bgr.ndim != 3 or bgr.shape[2] != 3:
            raise ValueError(f"expected a BGR image of shape HxWx3, got {bgr.shape}")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        with self._lock:
            result = self._pose.process(rgb)
        if result.pose_landmarks is None:
            return None
        return [
            {
                "name": name,
                "x": round(float(lm.x), 6),
                "y": round(float(lm.y), 6),
                "z": round(float(lm.z), 6),
                "visibility": round(float(lm.visibility), 6),
            }
            for name, lm in zip(self._landmark_names, result.pose_landmarks.landmark)
        ]

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> "PoseEstimator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def analyze_frame(
    estimator: PoseEstimator,
    bgr: np.ndarray,
    index: int,
    timestamp_s: float | None,
) -> dict[str, Any]:
    """The report entry for one frame."""
    height, width = bgr.shape[:2]
    landmarks = estimator.estimate(bgr)
    return {
        "index": index,
        "timestamp_s": timestamp_s,
        "width": int(width),
        "height": int(height),
        "person_found": landmarks is not None,
        "landmarks": landmarks,
        "metrics": compute_metrics(landmarks, width, height) if landmarks else None,
    }


def build_report(
    file: str,
    kind: str,
    sample_fps: float | None,
    estimator: PoseEstimator,
    frames: Iterable[dict[str, Any]],
) -> dict[str, Any]:
    """The whole JSON document written by the batch CLI and returned by the API."""
    frames = list(frames)
    return {
        "file": file,
        "kind": kind,
        "sample_fps": sample_fps,
        "model": estimator.model_info,
        "frames_processed": len(frames),
        "frames_with_person": sum(1 for f in frames if f["person_found"]),
        "frames": frames,
    }
