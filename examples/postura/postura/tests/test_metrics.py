import math

import pytest

from postura.metrics import (
    LEFT_HIP,
    LEFT_SHOULDER,
    RIGHT_HIP,
    RIGHT_SHOULDER,
    compute_metrics,
    lean_from_vertical_deg,
    line_tilt_deg,
)


def body(points: dict[int, tuple[float, float]], visibility: float = 0.99) -> list[dict]:
    """33 landmarks, all at the image centre except the given ones."""
    landmarks = [{"x": 0.5, "y": 0.5, "z": 0.0, "visibility": visibility} for _ in range(33)]
    for index, (x, y) in points.items():
        landmarks[index] = {"x": x, "y": y, "z": 0.0, "visibility": visibility}
    return landmarks


def upright(shoulder_y_left=0.3, shoulder_y_right=0.3, hip_y_left=0.7, hip_y_right=0.7):
    # A person facing the camera: their left side is on the image's right.
    return body(
        {
            LEFT_SHOULDER: (0.6, shoulder_y_left),
            RIGHT_SHOULDER: (0.4, shoulder_y_right),
            LEFT_HIP: (0.58, hip_y_left),
            RIGHT_HIP: (0.42, hip_y_right),
        }
    )


def test_level_upright_person_has_zero_metrics():
    metrics = compute_metrics(upright(), 100, 100)
    assert metrics == {"shoulder_tilt_deg": 0.0, "hip_tilt_deg": 0.0, "torso_lean_deg": 0.0}
    assert all(math.copysign(1.0, v) == 1.0 for v in metrics.values())  # no -0.0


def test_left_shoulder_raised_gives_positive_tilt():
    # 100x100 pixels: shoulders 20 px apart, left one 20 px higher -> 45 degrees.
    metrics = compute_metrics(upright(shoulder_y_left=0.2, shoulder_y_right=0.4), 100, 100)
    assert metrics["shoulder_tilt_deg"] == pytest.approx(45.0)


def test_right_hip_raised_gives_negative_tilt():
    # Hips 16 px apart, right one 16 px higher -> -45 degrees.
    metrics = compute_metrics(upright(hip_y_left=0.7, hip_y_right=0.54), 100, 100)
    assert metrics["hip_tilt_deg"] == pytest.approx(-45.0)


def test_angles_use_pixels_not_normalised_units():
    # Same normalised coordinates on a 400x100 image: dx = 80 px, dy = 20 px.
    metrics = compute_metrics(upright(shoulder_y_left=0.2, shoulder_y_right=0.4), 400, 100)
    assert metrics["shoulder_tilt_deg"] == pytest.approx(math.degrees(math.atan2(20, 80)), abs=0.01)


def test_tilt_does_not_depend_on_facing_direction():
    facing = upright(shoulder_y_left=0.25, shoulder_y_right=0.35)
    away = [dict(lm) for lm in facing]
    away[LEFT_SHOULDER]["x"], away[RIGHT_SHOULDER]["x"] = 0.4, 0.6
    assert compute_metrics(facing, 200, 200)["shoulder_tilt_deg"] == compute_metrics(
        away, 200, 200
    )["shoulder_tilt_deg"] > 0


def test_torso_lean_sign_and_size():
    # Shoulder centre 30 px right of the hip centre and 30 px above it -> +45 degrees.
    landmarks = body(
        {
            LEFT_SHOULDER: (0.9, 0.4),
            RIGHT_SHOULDER: (0.7, 0.4),
            LEFT_HIP: (0.6, 0.7),
            RIGHT_HIP: (0.4, 0.7),
        }
    )
    assert compute_metrics(landmarks, 100, 100)["torso_lean_deg"] == pytest.approx(45.0)
    assert lean_from_vertical_deg((50, 70), (20, 40)) == pytest.approx(-45.0)


def test_invisible_landmarks_give_none():
    landmarks = upright()
    landmarks[LEFT_HIP]["visibility"] = 0.1
    metrics = compute_metrics(landmarks, 100, 100)
    assert metrics["shoulder_tilt_deg"] == 0.0
    assert metrics["hip_tilt_deg"] is None
    assert metrics["torso_lean_deg"] is None


def test_coincident_points_are_level():
    assert line_tilt_deg((10.0, 10.0), (10.0, 10.0)) == 0.0


def test_wrong_landmark_count_is_rejected():
    with pytest.raises(ValueError, match="33 landmarks"):
        compute_metrics(upright()[:10], 100, 100)
    with pytest.raises(ValueError, match="positive"):
        compute_metrics(upright(), 0, 100)
