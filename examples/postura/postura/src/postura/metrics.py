"""Posture metrics computed from the 33 BlazePose landmarks.

Landmarks are in MediaPipe's normalised image coordinates: x and y in [0, 1]
relative to the image width and height, y growing downwards. Angles are computed
in pixel space (x * width, y * height) so that a non-square image does not skew
them. A metric whose landmarks are not visible enough is ``None``.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

# Indices into the 33-landmark BlazePose topology.
LEFT_SHOULDER = 11
RIGHT_SHOULDER = 12
LEFT_HIP = 23
RIGHT_HIP = 24

# Below this visibility a landmark is treated as not seen.
MIN_VISIBILITY = 0.5

Landmark = Mapping[str, float]


def _visible(landmark: Landmark, min_visibility: float) -> bool:
    return float(landmark.get("visibility", 1.0)) >= min_visibility


def _px(landmark: Landmark, width: int, height: int) -> tuple[float, float]:
    return float(landmark["x"]) * width, float(landmark["y"]) * height


def line_tilt_deg(left: tuple[float, float], right: tuple[float, float]) -> float:
    """Tilt of the line between a body's left and right point, in degrees.

    0 means level. Positive means the body's *left* point is higher in the image
    (smaller y) than its right point; negative means it is lower. The result
    does not depend on which way the person faces.
    """
    dx = abs(left[0] - right[0])
    dy = right[1] - left[1]
    if dx == 0.0 and dy == 0.0:
        return 0.0
    return math.degrees(math.atan2(dy, dx))


def lean_from_vertical_deg(
    lower: tuple[float, float], upper: tuple[float, float]
) -> float:
    """Angle of the segment lower -> upper away from straight up, in degrees.

    0 means upright. Positive means the upper point is to the image's right of
    the lower point, negative to its left.
    """
    dx = upper[0] - lower[0]
    dy = lower[1] - upper[1]  # > 0 when upper is above lower
    if dx == 0.0 and dy == 0.0:
        return 0.0
    return math.degrees(math.atan2(dx, dy))


def _round(value: float) -> float:
    # "+ 0.0" turns -0.0 into 0.0 so that level lines never print as "-0.0".
    return round(value, 2) + 0.0


def _midpoint(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return (a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0


def compute_metrics(
    landmarks: Sequence[Landmark],
    width: int,
    height: int,
    min_visibility: float = MIN_VISIBILITY,
) -> dict[str, float | None]:
    """Posture metrics for one person.

    ``landmarks`` is the list of 33 landmarks, each a mapping with ``x``, ``y``
    and optionally ``visibility``. Returns:

    - ``shoulder_tilt_deg``: tilt of the shoulder line (see ``line_tilt_deg``);
    - ``hip_tilt_deg``: tilt of the hip line;
    - ``torso_lean_deg``: lean of the hip-centre -> shoulder-centre segment from
      vertical (see ``lean_from_vertical_deg``).
    """
    if len(landmarks) != 33:
        raise ValueError(f"expected 33 landmarks, got {len(landmarks)}")
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")

    def seen(*indices: int) -> bool:
        return all(_visible(landmarks[i], min_visibility) for i in indices)

    def pt(i: int) -> tuple[float, float]:
        return _px(landmarks[i], width, height)

    shoulders = seen(LEFT_SHOULDER, RIGHT_SHOULDER)
    hips = seen(LEFT_HIP, RIGHT_HIP)

    shoulder_tilt = (
        _round(line_tilt_deg(pt(LEFT_SHOULDER), pt(RIGHT_SHOULDER)))
        if shoulders
        else None
    )
    hip_tilt = _round(line_tilt_deg(pt(LEFT_HIP), pt(RIGHT_HIP))) if hips else None
    torso_lean = None
    if shoulders and hips:
        torso_lean = _round(
            lean_from_vertical_deg(
                _midpoint(pt(LEFT_HIP), pt(RIGHT_HIP)),
                _midpoint(pt(LEFT_SHOULDER), pt(RIGHT_SHOULDER)),
            )
        )
    return {
        "shoulder_tilt_deg": shoulder_tilt,
        "hip_tilt_deg": hip_tilt,
        "torso_lean_deg": torso_lean,
    }
