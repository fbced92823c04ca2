import math

import numpy as np
import pytest

from strain_seer.strain import (
    SAMPLE_F,
    SAMPLE_T,
    analyze,
    fit_deformation,
    green_lagrange,
    parse_markers_csv,
    points_to_table,
    polar,
    principal,
    sample_markers,
    small_strain,
    table_to_points,
)

# An irregular, non-symmetric marker set so no test passes by symmetry alone.
REF = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 8.0], [0.0, 8.0], [4.0, 3.0], [7.5, 6.0], [2.0, 7.0]])


def deform(F, t=(0.0, 0.0), ref=REF):
    return ref @ np.asarray(F).T + np.asarray(t)


def rotation(deg):
    a = math.radians(deg)
    return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])


def test_identity_gives_zero_strain():
    res = analyze(REF, REF.copy())
    np.testing.assert_allclose(res.F, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(res.strain, 0.0, atol=1e-12)
    assert res.rotation_deg == pytest.approx(0.0, abs=1e-10)
    assert res.area_ratio == pytest.approx(1.0)
    assert res.residual_rms == pytest.approx(0.0, abs=1e-12)


def test_pure_stretch():
    F = np.diag([1.10, 0.95])
    res = analyze(REF, deform(F, t=(3.0, -2.0)))
    np.testing.assert_allclose(res.F, F, atol=1e-12)
    np.testing.assert_allclose(res.translation, [3.0, -2.0], atol=1e-12)
    # E = (F^T F - I)/2: (1.21 - 1)/2 = 0.105, (0.9025 - 1)/2 = -0.04875
    np.testing.assert_allclose(res.green_lagrange, np.diag([0.105, -0.04875]), atol=1e-12)
    np.testing.assert_allclose(res.small, np.diag([0.10, -0.05]), atol=1e-12)
    np.testing.assert_allclose(res.principal.values, [0.105, -0.04875], atol=1e-12)
    np.testing.assert_allclose(res.principal.angles_deg, [0.0, 90.0], atol=1e-9)
    assert res.principal.max_shear == pytest.approx((0.105 + 0.04875) / 2)
    assert res.rotation_deg == pytest.approx(0.0, abs=1e-10)
    assert res.area_ratio == pytest.approx(1.10 * 0.95)


def test_uniaxial_stretch_along_45_degrees():
    # Stretch by 1.2 along (1, 1)/sqrt(2) only.
    n = np.array([1.0, 1.0]) / math.sqrt(2.0)
    F = np.eye(2) + 0.2 * np.outer(n, n)
    res = analyze(REF, deform(F))
    # Along n: E = (1.2^2 - 1)/2 = 0.22; across n: 0.
    np.testing.assert_allclose(res.principal.values, [0.22, 0.0], atol=1e-12)
    np.testing.assert_allclose(res.principal.angles_deg, [45.0, -45.0], atol=1e-9)
    np.testing.assert_allclose(res.principal.directions[:, 0], n, atol=1e-12)
    assert res.rotation_deg == pytest.approx(0.0, abs=1e-10)


def test_simple_shear():
    g = 0.2
    F = np.array([[1.0, g], [0.0, 1.0]])
    res = analyze(REF, deform(F), measure="small")
    np.testing.assert_allclose(res.small, [[0.0, 0.1], [0.1, 0.0]], atol=1e-12)
    np.testing.assert_allclose(res.principal.values, [0.1, -0.1], atol=1e-12)
    np.testing.assert_allclose(res.principal.angles_deg, [45.0, -45.0], atol=1e-9)
    assert 2 * res.principal.max_shear == pytest.approx(g)
    # Finite strain: E = [[0, g/2], [g/2, g^2/2]], principal g^2/4 ± sqrt(g^4/16 + g^2/4).
    np.testing.assert_allclose(res.green_lagrange, [[0.0, 0.1], [0.1, 0.02]], atol=1e-12)
    root = math.sqrt(0.01**2 + 0.1**2)
    e = analyze(REF, deform(F)).principal.values
    np.testing.assert_allclose(e, [0.01 + root, 0.01 - root], atol=1e-12)
    # Simple shear turns the material clockwise by atan(g/2).
    assert res.rotation_deg == pytest.approx(-math.degrees(math.atan(g / 2)))
    assert res.area_ratio == pytest.approx(1.0)


@pytest.mark.parametrize("angle", [5.0, 30.0, -70.0, 135.0])
def test_rigid_rotation_has_no_green_lagrange_strain(angle):
    res = analyze(REF, deform(rotation(angle), t=(12.0, -4.0)))
    np.testing.assert_allclose(res.green_lagrange, 0.0, atol=1e-12)
    np.testing.assert_allclose(res.principal.values, 0.0, atol=1e-12)
    assert res.rotation_deg == pytest.approx(angle)
    np.testing.assert_allclose(res.stretch, np.eye(2), atol=1e-12)
    # The small-strain tensor is fooled by the rotation: cos(a) - 1 on the diagonal.
    c = math.cos(math.radians(angle)) - 1.0
    np.testing.assert_allclose(res.small, np.diag([c, c]), atol=1e-12)


def test_stretch_then_rotation_separates_both():
    U = np.array([[1.05, 0.02], [0.02, 0.97]])
    res = analyze(REF, deform(rotation(25.0) @ U))
    assert res.rotation_deg == pytest.approx(25.0)
    np.testing.assert_allclose(res.stretch, U, atol=1e-12)
    np.testing.assert_allclose(res.green_lagrange, 0.5 * (U @ U - np.eye(2)), atol=1e-12)


def test_least_squares_with_noise_recovers_f():
    rng = np.random.default_rng(1)
    xs, ys = np.meshgrid(np.linspace(0, 50, 6), np.linspace(0, 40, 5))
    ref = np.column_stack([xs.ravel(), ys.ravel()])
    F = np.array([[1.02, -0.01], [0.005, 0.99]])
    noise = rng.normal(scale=0.01, size=ref.shape)
    F_fit, t_fit, residuals = fit_deformation(ref, deform(F, (1.0, 2.0), ref) + noise)
    np.testing.assert_allclose(F_fit, F, atol=1e-3)
    np.testing.assert_allclose(t_fit, [1.0, 2.0], atol=2e-2)
    rms = math.sqrt(np.mean(np.sum(residuals**2, axis=1)))
    assert 0.005 < rms < 0.02  # about the 0.01 * sqrt(2) noise, less the fitted dofs


def test_three_markers_are_enough_and_fit_exactly():
    ref = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    F = np.array([[1.3, 0.2], [-0.1, 0.8]])
    res = analyze(ref, deform(F, ref=ref))
    np.testing.assert_allclose(res.F, F, atol=1e-12)
    assert res.residual_rms == pytest.approx(0.0, abs=1e-12)


def test_tensor_helpers_agree_with_definitions():
    F = np.array([[1.1, 0.3], [0.05, 0.9]])
    np.testing.assert_allclose(green_lagrange(F), 0.5 * (F.T @ F - np.eye(2)))
    np.testing.assert_allclose(small_strain(F), [[0.1, 0.175], [0.175, -0.1]])
    angle, U = polar(F)
    R = rotation(angle)
    np.testing.assert_allclose(R @ U, F, atol=1e-12)
    np.testing.assert_allclose(U, U.T, atol=1e-12)
    p = principal(green_lagrange(F))
    for value, vec in zip(p.values, p.directions.T, strict=True):
        np.testing.assert_allclose(green_lagrange(F) @ vec, value * vec, atol=1e-12)
    assert p.values[0] >= p.values[1]


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        (REF[:2], REF[:2], "at least 3 markers"),
        (np.array([[0, 0], [1, 1], [2, 2], [3, 3.0]]), np.zeros((4, 2)), "one line"),
        (REF, REF[:-1], "same markers"),
        (REF, np.where(REF == 10.0, np.nan, REF), "non-finite"),
        (REF.ravel(), REF.ravel(), "(n, 2)"),
        (REF, REF * np.array([-1.0, 1.0]), "inside out"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(before, after, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        analyze(before, after)


def test_unknown_measure():
    with pytest.raises(ValueError, match="unknown strain measure"):
        analyze(REF, REF, measure="log")


def test_sample_recovers_its_own_deformation():
    before, after = sample_markers()
    assert before.shape == after.shape == (12, 2)
    res = analyze(before, after)
    np.testing.assert_allclose(res.F, SAMPLE_F, atol=1e-3)
    np.testing.assert_allclose(res.translation, SAMPLE_T, atol=2e-2)
    # Noise-free values: E = (F^T F - I)/2 of SAMPLE_F.
    np.testing.assert_allclose(res.green_lagrange, green_lagrange(SAMPLE_F), atol=1e-3)
    assert res.principal.values[0] > 0 > res.principal.values[1]


def test_csv_with_header_in_any_order_and_extra_columns():
    text = (
        "# markers from run 3\nid,X_after,y_after,x_before,y_before\na,1.1,0,1,0\nb,0,0.9,0,1\n\nc,0,0,0,0\n"
    )
    before, after = parse_markers_csv(text)
    np.testing.assert_allclose(before, [[1, 0], [0, 1], [0, 0]])
    np.testing.assert_allclose(after, [[1.1, 0], [0, 0.9], [0, 0]])
    res = analyze(before, after, "small")
    np.testing.assert_allclose(res.small, np.diag([0.1, -0.1]), atol=1e-12)


def test_csv_without_header_and_semicolons():
    before, after = parse_markers_csv("0;0;0;0\n1;0;1.2;0\n0;1;0;1\n")
    np.testing.assert_allclose(after[1], [1.2, 0.0])
    assert before.shape == (3, 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("x_before,y_before,x_after\n1,2,3\n", "lacks column"),
        ("x_before,y_before,x_after,y_after\n1,2,3,four\n", "line 2"),
        ("1,2,3\n", "exactly 4 columns"),
    ],
)
def test_bad_csv(text, message):
    with pytest.raises(ValueError, match=message):
        parse_markers_csv(text)


def test_table_round_trip_drops_incomplete_rows():
    before, after = sample_markers()
    table = points_to_table(before, after)
    table["x_before"].append(5.0)  # a half-typed row, as the editor would hand back
    for name in ("y_before", "x_after", "y_after"):
        table[name].append(None)
    b2, a2 = table_to_points(table)
    np.testing.assert_allclose(b2, before)
    np.testing.assert_allclose(a2, after)


def test_table_missing_column():
    with pytest.raises(ValueError, match="no column"):
        table_to_points({"x_before": [1.0]})
