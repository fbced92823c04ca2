"""Run the real Streamlit page headlessly with Streamlit's own AppTest."""

import pytest
from streamlit.testing.v1 import AppTest

from strain_seer import cli
from strain_seer.strain import analyze, sample_markers


@pytest.fixture
def app():
    at = AppTest.from_file(str(cli.APP_PATH), default_timeout=60)
    return at.run()


def metric(at, label):
    return next(m for m in at.metric if m.label == label).value


def test_page_renders_the_sample(app):
    assert not app.exception
    assert not app.error
    expected = analyze(*sample_markers()).principal
    assert metric(app, "Major principal strain ε₁") == f"{expected.values[0]:+.5f}"
    assert metric(app, "Minor principal strain ε₂") == f"{expected.values[1]:+.5f}"
    assert metric(app, "Markers used") == "12"


def test_switching_to_small_strain(app):
    app.selectbox[0].select("Small strain (infinitesimal)").run()
    assert not app.exception
    expected = analyze(*sample_markers(), measure="small").principal
    assert metric(app, "Major principal strain ε₁") == f"{expected.values[0]:+.5f}"
