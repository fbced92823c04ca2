"""Strain Seer: the Streamlit page.

Run it with the ``strain-seer`` command (see ``strain_seer.cli``) or
``streamlit run src/strain_seer/app.py``.  Nothing here writes to disk:
uploads are read from memory and downloads are built in memory.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import streamlit as st

from strain_seer import __version__
from strain_seer.plots import figure_png, strain_figure
from strain_seer.strain import (
    COLUMNS,
    analyze,
    parse_markers_csv,
    points_to_table,
    sample_markers,
    table_to_points,
)

MEASURE_NAMES = {"Green–Lagrange (finite strain)": "green-lagrange", "Small strain (infinitesimal)": "small"}


def matrix_latex(symbol: str, M: np.ndarray) -> str:
    return (
        rf"{symbol} = \begin{{bmatrix}} {M[0, 0]:.5f} & {M[0, 1]:.5f} \\ "
        rf"{M[1, 0]:.5f} & {M[1, 1]:.5f} \end{{bmatrix}}"
    )


def results_csv(before: np.ndarray, after: np.ndarray, residuals: np.ndarray) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*COLUMNS, "u", "v", "residual_x", "residual_y"])
    for b, a, r in zip(before, after, residuals, strict=True):
        writer.writerow([*(f"{x:.6g}" for x in (*b, *a, *(a - b), *r))])
    return out.getvalue()


def load_markers() -> tuple[dict[str, list[float]], str]:
    """The marker table to start editing from, and a key naming its source."""
    source = st.sidebar.radio("Markers", ["Built-in sample", "Upload CSV"], horizontal=True)
    if source == "Upload CSV":
        upload = st.sidebar.file_uploader(
            "CSV with columns x_before, y_before, x_after, y_after", type=["csv", "txt"]
        )
        if upload is not None:
            try:
                before, after = parse_markers_csv(upload.getvalue().decode("utf-8-sig"))
            except (UnicodeDecodeError, ValueError) as exc:
                st.sidebar.error(f"Could not read {upload.name}: {exc}")
            else:
                return points_to_table(before, after), f"upload:{upload.file_id}"
        st.sidebar.info("No file yet — showing the built-in sample.")
    before, after = sample_markers()
    return points_to_table(before, after), "sample"


def main() -> None:
    st.set_page_config(page_title="Strain Seer", page_icon="📐", layout="wide")
    st.title("Strain Seer")
    st.caption(
        "Planar strain from marker positions before and after deformation: a least-squares "
        "deformation gradient, its strain tensor, principal strains and directions."
    )

    table, source_key = load_markers()
    measure_label = st.sidebar.selectbox("Strain measure", list(MEASURE_NAMES))
    measure = MEASURE_NAMES[measure_label]
    magnification = st.sidebar.slider("Displacement magnification in the plot", 1, 100, 10)
    st.sidebar.caption(f"strain-seer {__version__}")

    st.subheader("Markers")
    st.caption("Edit cells, add or delete rows. Rows with an empty cell are ignored.")
    edited = st.data_editor(table, num_rows="dynamic", key=f"markers:{source_key}", width="stretch")

    try:
        before, after = table_to_points(edited)
        result = analyze(before, after, measure)
    except ValueError as exc:
        st.error(f"Cannot compute strain: {exc}")
        st.stop()

    p = result.principal
    st.subheader("Results")
    cols = st.columns(4)
    cols[0].metric(
        "Major principal strain ε₁", f"{p.values[0]:+.5f}", help=f"direction {p.angles_deg[0]:+.1f}°"
    )
    cols[1].metric(
        "Minor principal strain ε₂", f"{p.values[1]:+.5f}", help=f"direction {p.angles_deg[1]:+.1f}°"
    )
    cols[2].metric("Direction of ε₁", f"{p.angles_deg[0]:+.2f}°", help="counter-clockwise from the x axis")
    cols[3].metric("Max shear strain γmax", f"{2 * p.max_shear:.5f}", help="engineering shear, ε₁ − ε₂")
    cols = st.columns(4)
    cols[0].metric(
        "Rigid rotation", f"{result.rotation_deg:+.3f}°", help="from the polar decomposition F = R U"
    )
    cols[1].metric("Area change", f"{(result.area_ratio - 1) * 100:+.3f} %", help="det F − 1")
    cols[2].metric("Markers used", f"{len(before)}")
    cols[3].metric("Fit residual (RMS)", f"{result.residual_rms:.4g}", help="same unit as the positions")

    left, right = st.columns(2)
    with left:
        st.latex(matrix_latex(r"\mathbf{F}", result.F))
        st.latex(rf"\mathbf{{t}} = ({result.translation[0]:.4f},\ {result.translation[1]:.4f})")
    with right:
        symbol = r"\mathbf{E}" if measure == "green-lagrange" else r"\boldsymbol{\varepsilon}"
        st.latex(matrix_latex(symbol, result.strain))

    fig = strain_figure(before, after, result, magnification)
    st.pyplot(fig)

    d1, d2 = st.columns(2)
    d1.download_button(
        "Download per-marker results (CSV)",
        results_csv(before, after, result.residuals),
        file_name="strain-seer-markers.csv",
        mime="text/csv",
    )
    d2.download_button(
        "Download figure (PNG)", figure_png(fig), file_name="strain-seer.png", mime="image/png"
    )


main()
