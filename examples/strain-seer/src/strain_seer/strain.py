"""Planar strain from marker positions before and after deformation.

Everything here is plain numpy/scipy so it can be tested without Streamlit.

The deformation between two marker sets is modelled as a homogeneous
(affine) map ``x = F @ X + t``.  ``F``, the 2x2 deformation gradient, is
fitted to all markers at once by linear least squares; from it follow

* the Green–Lagrange strain ``E = (Fᵀ F − I) / 2`` (finite strain, exact
  under any rigid rotation),
* the small (infinitesimal) strain ``ε = (H + Hᵀ) / 2`` with ``H = F − I``
  (only valid for small strains *and* small rotations),
* the rigid rotation from the polar decomposition ``F = R U``,
* principal strains and directions of either strain tensor.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg

#: Column names of the marker table, in order.
COLUMNS: tuple[str, str, str, str] = ("x_before", "y_before", "x_after", "y_after")

#: Strain measures understood by :func:`analyze`.
MEASURES: tuple[str, str] = ("green-lagrange", "small")

#: Deformation gradient and translation used to make the built-in sample.
SAMPLE_F = np.array([[1.030, 0.012], [0.018, 0.985]])
SAMPLE_T = np.array([1.5, -0.8])

# A marker cloud whose second singular value is this small compared with the
# first is treated as collinear: F would be undetermined across the line.
_COLLINEAR_RATIO = 1e-6

# Principal angles this close to -90 degrees are reported as +90.
_ANGLE_SNAP_DEG = 1e-9


@dataclass(frozen=True)
class Principal:
    """Principal values and directions of a symmetric 2x2 tensor."""

    values: np.ndarray
    """Shape (2,): the major value first."""
    directions: np.ndarray
    """Shape (2, 2): column ``i`` is the unit vector of ``values[i]``."""
    angles_deg: np.ndarray
    """Shape (2,): angle of each direction from the x axis, in (-90, 90]."""

    @property
    def max_shear(self) -> float:
        """Largest in-plane tensor shear strain, (e1 − e2) / 2."""
        return float(self.values[0] - self.values[1]) / 2.0


@dataclass(frozen=True)
class StrainAnalysis:
    """Result of :func:`analyze`."""

    F: np.ndarray
    """Deformation gradient, 2x2."""
    translation: np.ndarray
    """Translation ``t`` of the affine fit ``x = F X + t``."""
    measure: str
    """Which tensor ``strain`` is: ``"green-lagrange"`` or ``"small"``."""
    strain: np.ndarray
    """The chosen strain tensor, 2x2 symmetric."""
    green_lagrange: np.ndarray
    small: np.ndarray
    rotation_deg: float
    """Rigid rotation of the polar decomposition, counter-clockwise positive."""
    stretch: np.ndarray
    """Right stretch tensor ``U`` of ``F = R U``."""
    principal: Principal
    """Principal values and directions of ``strain``."""
    area_ratio: float
    """det F: current area over reference area."""
    residuals: np.ndarray
    """Shape (n, 2): fitted minus measured deformed positions."""

    @property
    def residual_rms(self) -> float:
        """Root-mean-square distance between fitted and measured markers."""
        return float(np.sqrt(np.mean(np.sum(self.residuals**2, axis=1))))


def _as_points(points: object, name: str) -> np.ndarray:
    arr = np.asarray(points, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must be an (n, 2) array of x, y positions, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains missing or non-finite values")
    return arr


def fit_deformation(before: object, after: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares affine fit ``after ≈ F @ before + t``.

    Returns ``(F, t, residuals)`` with ``residuals = fitted − after``.
    Needs at least three markers that are not all on one line.
    """
    ref = _as_points(before, "positions before")
    cur = _as_points(after, "positions after")
    if ref.shape != cur.shape:
        raise ValueError(f"before and after need the same markers: {len(ref)} before, {len(cur)} after")
    if len(ref) < 3:
        raise ValueError(f"at least 3 markers are needed to fit a 2D deformation, got {len(ref)}")

    ref_c = ref.mean(axis=0)
    cur_c = cur.mean(axis=0)
    d_ref = ref - ref_c
    d_cur = cur - cur_c

    sv = linalg.svdvals(d_ref)
    if sv[0] == 0.0 or sv[1] / sv[0] < _COLLINEAR_RATIO:
        raise ValueError("the markers before deformation lie on one line (or one point)")

    # d_cur ≈ d_ref @ G, solved column by column; F = Gᵀ.
    G, _, _, _ = linalg.lstsq(d_ref, d_cur)
    F = G.T
    t = cur_c - F @ ref_c
    residuals = ref @ F.T + t - cur
    return F, t, residuals


def green_lagrange(F: np.ndarray) -> np.ndarray:
    """Green–Lagrange strain ``(Fᵀ F − I) / 2``."""
    F = np.asarray(F, dtype=float)
    return 0.5 * (F.T @ F - np.eye(2))


def small_strain(F: np.ndarray) -> np.ndarray:
    """Infinitesimal strain, the symmetric part of ``F − I``."""
    H = np.asarray(F, dtype=float) - np.eye(2)
    return 0.5 * (H + H.T)


def polar(F: np.ndarray) -> tuple[float, np.ndarray]:
    """Polar decomposition ``F = R U``: rotation angle of R in degrees, and U.

    Raises ValueError when det F ≤ 0 (the markers were mirrored or the
    fitted area collapsed), where no physical deformation fits.
    """
    F = np.asarray(F, dtype=float)
    det = float(np.linalg.det(F))
    if det <= 0.0:
        raise ValueError(
            f"the fitted deformation turns the marker set inside out (det F = {det:.4g}); "
            "check that the before and after rows belong to the same markers"
        )
    R, U = linalg.polar(F, side="right")
    angle = math.degrees(math.atan2(R[1, 0], R[0, 0]))
    return angle, U


def principal(tensor: np.ndarray) -> Principal:
    """Principal values (major first) and unit directions of a symmetric 2x2 tensor."""
    T = np.asarray(tensor, dtype=float)
    if T.shape != (2, 2):
        raise ValueError(f"expected a 2x2 tensor, got shape {T.shape}")
    T = 0.5 * (T + T.T)
    values, vectors = linalg.eigh(T)
    order = np.argsort(values)[::-1]
    values = values[order]
    vectors = vectors[:, order]
    angles = np.empty(2)
    for i in range(2):
        v = vectors[:, i]
        # A direction and its opposite are the same axis: report the one whose
        # angle is in (-90, 90], with round-off near -90 counted as +90.
        angle = math.degrees(math.atan2(v[1], v[0]))
        angle = 90.0 - (90.0 - angle) % 180.0
        if angle <= -90.0 + _ANGLE_SNAP_DEG:
            angle += 180.0
        if np.dot(v, [math.cos(math.radians(angle)), math.sin(math.radians(angle))]) < 0:
            v = -v
        vectors[:, i] = v
        angles[i] = angle
    return Principal(values=values, directions=vectors, angles_deg=angles)


def analyze(before: object, after: object, measure: str = "green-lagrange") -> StrainAnalysis:
    """Fit F to the markers and derive strains, rotation and principal values."""
    if measure not in MEASURES:
        raise ValueError(f"unknown strain measure {measure!r}; choose one of {', '.join(MEASURES)}")
    F, t, residuals = fit_deformation(before, after)
    rotation, U = polar(F)
    E = green_lagrange(F)
    eps = small_strain(F)
    chosen = E if measure == "green-lagrange" else eps
    return StrainAnalysis(
        F=F,
        translation=t,
        measure=measure,
        strain=chosen,
        green_lagrange=E,
        small=eps,
        rotation_deg=rotation,
        stretch=U,
        principal=principal(chosen),
        area_ratio=float(np.linalg.det(F)),
        residuals=residuals,
    )


def sample_markers(noise: float = 0.004, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A 4 x 3 grid of markers (10 units apart) deformed by SAMPLE_F and SAMPLE_T.

    ``noise`` is the standard deviation of the simulated measurement error
    added to the deformed positions; the result is rounded to 3 decimals as
    a tracker would report it.
    """
    xs, ys = np.meshgrid(np.arange(4) * 10.0, np.arange(3) * 10.0)
    before = np.column_stack([xs.ravel(), ys.ravel()])
    rng = np.random.default_rng(seed)
    after = before @ SAMPLE_F.T + SAMPLE_T + rng.normal(scale=noise, size=before.shape)
    return before, np.round(after, 3)


def table_to_points(table: object) -> tuple[np.ndarray, np.ndarray]:
    """Marker positions from a table with the four :data:`COLUMNS`.

    ``table`` may be anything indexable by column name whose columns convert
    to float arrays (a dict of lists, a pandas DataFrame, ...).  Rows with any
    empty cell are dropped, so half-typed rows in an editor are ignored.
    """
    try:
        cols = [np.asarray(table[name], dtype=float) for name in COLUMNS]  # type: ignore[index]
    except KeyError as exc:
        raise ValueError(f"the marker table has no column {exc}") from None
    except (TypeError, ValueError):
        raise ValueError("the marker table holds values that are not numbers") from None
    data = np.column_stack(cols) if cols[0].size else np.empty((0, 4))
    data = data[np.all(np.isfinite(data), axis=1)]
    return data[:, :2], data[:, 2:]


def points_to_table(before: np.ndarray, after: np.ndarray) -> dict[str, list[float]]:
    """The inverse of :func:`table_to_points`: a dict of columns."""
    data = np.column_stack([before, after])
    return {name: [float(v) for v in data[:, i]] for i, name in enumerate(COLUMNS)}


def parse_markers_csv(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Read markers from CSV text.

    Either a header naming the four :data:`COLUMNS` (any order, any case,
    other columns ignored) or no header and exactly four numeric columns in
    that order.  Blank lines and lines starting with ``#`` are skipped.
    """
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ValueError("the CSV file is empty")
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO("\n".join(lines)), dialect))

    header = [cell.strip().lower() for cell in rows[0]]
    if all(_is_number(cell) for cell in header):
        indices = [0, 1, 2, 3]
        if len(header) != 4:
            raise ValueError(f"a CSV without a header needs exactly 4 columns, line 1 has {len(header)}")
        body = rows
        first_line = 1
    else:
        missing = [name for name in COLUMNS if name not in header]
        if missing:
            raise ValueError(f"the CSV header lacks column(s) {', '.join(missing)}")
        indices = [header.index(name) for name in COLUMNS]
        body = rows[1:]
        first_line = 2

    values = []
    for lineno, row in enumerate(body, start=first_line):
        try:
            values.append([float(row[i]) for i in indices])
        except (IndexError, ValueError):
            raise ValueError(f"CSV line {lineno} does not hold 4 numbers: {row!r}") from None
    data = np.array(values, dtype=float).reshape(-1, 4)
    return data[:, :2], data[:, 2:]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
