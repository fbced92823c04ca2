"""Image builds on an engine without a bridge network (dockerd --bridge=none,
as the private test engine): dbx notices and builds on the host's network by
itself, with no DBX_BUILD_NETWORK, and says so once."""

import uuid

import pytest

from test_lablink import engine  # noqa: F401  (the module fixture)

NOTICE = "engine has no bridge network: builds use the host network"


@pytest.fixture
def proj(project, engine):  # noqa: F811
    """A project whose dbx runs talk to the test engine, with DBX_BUILD_NETWORK unset."""
    if engine.docker("network", "inspect", "bridge", check=False).returncode == 0:
        pytest.skip("the test engine has a bridge network; this is about one without")
    base_env = project.env

    def env(extra=None):
        e = base_env(None)
        e.update(engine.env)
        e.pop("DBX_BUILD_NETWORK", None)
        e["DBX_PULL"] = "never"
        e.update(extra or {})
        return e

    project.env = env
    return project


def recipe(proj, run):
    # a fresh word in the RUN line, so BuildKit's cache cannot stand in for running it
    proj.recipe(f'''\
        image "net" {{
          dockerfile = [[
        FROM python:3.11-slim
        RUN echo {uuid.uuid4().hex} && {run}
        ]],
        }}
        ''')


def test_build_reaches_the_package_index_without_dbx_build_network(proj):
    recipe(proj, "getent hosts pypi.org && python3 -c \"import urllib.request as u; "
                 "u.urlopen('https://pypi.org/simple/pip/', timeout=60).read(1)\"")
    r = proj.build("net", timeout=300)
    assert r.code == 0, r
    assert r.status == {"net": "built"}, r
    assert r.err.count(NOTICE) == 1, r
    log = proj.read(".dbx/logs/net.log")
    assert "pypi.org" in log, log
    assert "network bridge not found" not in log, log

    again = proj.build("net")
    assert again.code == 0 and again.status == {"net": "cached"}, again
    assert NOTICE not in again.err, again  # nothing to build: the engine is not asked


def test_the_network_is_no_part_of_the_key(proj):
    recipe(proj, "true")
    first = proj.build("net", timeout=300)
    assert first.code == 0, first
    key = first.of("finish")[0]["key"]
    named = proj.build("net", env={"DBX_BUILD_NETWORK": "host"})
    assert named.code == 0 and named.status == {"net": "cached"}, named
    assert named.of("finish")[0]["key"] == key, named
    assert NOTICE not in named.err, named  # the environment named a network: nothing to ask


def test_a_network_the_environment_names_is_used_as_it_is(proj):
    recipe(proj, "getent hosts pypi.org")
    r = proj.build("net", env={"DBX_BUILD_NETWORK": "none"}, timeout=300)
    assert r.code == 1 and r.status == {"net": "failed"}, r
    assert NOTICE not in r.err, r
