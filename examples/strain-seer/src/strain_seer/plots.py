"""Matplotlib figures for a strain analysis.

Figures are built with the object API (``matplotlib.figure.Figure``), not
pyplot, so concurrent Streamlit sessions never share global figure state and
no GUI backend is needed.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from strain_seer.strain import StrainAnalysis

_MEASURE_LABEL = {"green-lagrange": "Green–Lagrange strain", "small": "small strain"}


def strain_figure(
    before: np.ndarray,
    after: np.ndarray,
    result: StrainAnalysis,
    magnification: float = 10.0,
) -> Figure:
    """Two panels: markers with magnified displacements, and Mohr's circle."""
    fig = Figure(figsize=(11, 5), layout="constrained")
    ax_markers, ax_mohr = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
    draw_markers(ax_markers, before, after, result, magnification)
    draw_mohr(ax_mohr, result)
    return fig


def draw_markers(ax, before, after, result: StrainAnalysis, magnification: float) -> None:
    """Reference markers, deformed markers and the strain ellipse.

    The mean translation is removed and displacements are multiplied by
    ``magnification`` so that strains of a few percent are visible.
    """
    before = np.asarray(before, dtype=float)
    after = np.asarray(after, dtype=float)
    m = float(magnification)
    shift = after.mean(axis=0) - before.mean(axis=0)
    shown = before + m * (after - shift - before)

    ax.scatter(before[:, 0], before[:, 1], s=36, facecolors="none", edgecolors="0.35", label="before")
    ax.scatter(shown[:, 0], shown[:, 1], s=30, color="tab:blue", label=f"after (displacement ×{m:g})")
    ax.quiver(
        before[:, 0],
        before[:, 1],
        shown[:, 0] - before[:, 0],
        shown[:, 1] - before[:, 1],
        angles="xy",
        scale_units="xy",
        scale=1,
        width=0.004,
        color="tab:blue",
        alpha=0.6,
    )

    # Unit circle around the centroid and its image under the magnified F.
    centre = before.mean(axis=0)
    span = np.ptp(before, axis=0).max()
    radius = 0.3 * span if span > 0 else 1.0
    theta = np.linspace(0.0, 2.0 * np.pi, 181)
    circle = np.vstack([np.cos(theta), np.sin(theta)]) * radius
    F_shown = np.eye(2) + m * (result.F - np.eye(2))
    ellipse = F_shown @ circle
    ax.add_patch(Circle(centre, radius, fill=False, ls="--", color="0.55", lw=1))
    ax.plot(
        centre[0] + ellipse[0], centre[1] + ellipse[1], color="tab:purple", lw=1.5, label="strain ellipse"
    )

    # Principal directions (reference configuration), coloured by sign.
    for value, direction in zip(result.principal.values, result.principal.directions.T, strict=True):
        colour = "tab:red" if value >= 0 else "tab:green"
        d = direction * radius * 1.25
        ax.annotate(
            "",
            xy=centre + d,
            xytext=centre - d,
            arrowprops={"arrowstyle": "<->" if value < 0 else "<|-|>", "color": colour, "lw": 2},
        )
        ax.text(*(centre + d * 1.08), f"{value:+.4f}", color=colour, ha="center", va="center", fontsize=9)

    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title("Markers and principal directions")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)


def draw_mohr(ax, result: StrainAnalysis) -> None:
    """Mohr's circle of the chosen strain tensor (tensor shear on the y axis)."""
    T = result.strain
    centre = 0.5 * (T[0, 0] + T[1, 1])
    radius = float(np.hypot(0.5 * (T[0, 0] - T[1, 1]), T[0, 1]))
    theta = np.linspace(0.0, 2.0 * np.pi, 181)
    ax.plot(centre + radius * np.cos(theta), radius * np.sin(theta), color="tab:purple")
    ax.plot([T[0, 0], T[1, 1]], [T[0, 1], -T[0, 1]], "o-", color="0.4", label="x / y faces")
    e1, e2 = result.principal.values
    ax.plot([e1, e2], [0.0, 0.0], "s", color="tab:red", label=f"principal: {e1:+.4f}, {e2:+.4f}")
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.axvline(0.0, color="0.6", lw=0.8)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(f"Mohr's circle — {_MEASURE_LABEL[result.measure]}")
    ax.set_xlabel("normal strain")
    ax.set_ylabel("shear strain (tensor)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)


def figure_png(fig: Figure, dpi: int = 120) -> bytes:
    """Render a figure to PNG bytes in memory (no file is written)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
