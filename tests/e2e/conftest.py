"""Fixtures for dbx's end-to-end tests; the helpers live in dbxtest.py."""

import os

import pytest

from dbxtest import Project, dbx_path

# the projects test_realworld copies and builds: their own tests are theirs
collect_ignore = ["projects"]


@pytest.fixture(scope="session")
def dbx_bin():
    p = dbx_path()
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"no dbx binary at {p}: run `make` or set DBX=/path/to/dbx")
    return p


@pytest.fixture
def project(tmp_path, dbx_bin):
    """An empty project folder (tmp_path/proj) with a side folder for counters and pids."""
    return Project(tmp_path / "proj", tmp_path / "side", dbx_bin)
