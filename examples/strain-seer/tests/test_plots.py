import numpy as np

from strain_seer.plots import figure_png, strain_figure
from strain_seer.strain import analyze, sample_markers


def test_figure_has_both_panels_and_renders_to_png():
    before, after = sample_markers()
    res = analyze(before, after)
    fig = strain_figure(before, after, res, magnification=20)
    markers, mohr = fig.axes
    assert markers.get_title() == "Markers and principal directions"
    assert "Mohr" in mohr.get_title()
    # Reference markers plus the magnified deformed markers.
    offsets = markers.collections[1].get_offsets()
    shift = after.mean(axis=0) - before.mean(axis=0)
    np.testing.assert_allclose(offsets, before + 20 * (after - shift - before))
    png = figure_png(fig, dpi=50)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 5000


def test_mohr_circle_passes_through_principal_strains():
    before, after = sample_markers()
    res = analyze(before, after, "small")
    fig = strain_figure(before, after, res)
    circle = fig.axes[1].lines[0].get_xydata()
    e1, e2 = res.principal.values
    assert circle[:, 0].max() == np.float64(circle[0, 0])  # starts at the right end
    np.testing.assert_allclose([circle[:, 0].max(), circle[:, 0].min()], [e1, e2], atol=1e-9)
