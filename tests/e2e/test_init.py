"""`dbx init`: a first build.lua for an existing project, which builds an
image whose container starts and turns healthy."""

import json
import shutil
import time

import pytest

from dbxtest import REPO
from test_images_bad import proj  # noqa: F401  (fixture)
from test_lablink import engine  # noqa: F401  (fixture)


def wait_healthy(engine, cid, timeout=90):  # noqa: F811
    end = time.monotonic() + timeout
    state = {}
    while time.monotonic() < end:
        state = json.loads(engine.docker("inspect", cid).stdout)[0]["State"]
        if state.get("Health", {}).get("Status") == "healthy":
            return
        if not state["Running"]:
            break
        time.sleep(1)
    logs = engine.docker("logs", cid, check=False)
    raise AssertionError(f"container did not turn healthy: {state}\n{logs.stdout}{logs.stderr}")


def test_init_on_lablink_builds_a_healthy_image(proj, engine):  # noqa: F811
    shutil.copytree(REPO / "examples/lablink/allocator", proj.path("app"),
                    ignore=shutil.ignore_patterns("Dockerfile*", "start.sh", ".dbx"))
    r = proj.run("init", "app")
    assert r.code == 0, r
    text = proj.read("app/build.lua")
    assert 'python.service "lablink-allocator"' in text and 'manager = "uv"' in text, text
    assert 'cmd = { "lablink-allocator" }' in text and "port = 5000" in text and 'health = "/health"' in text, text
    r = proj.run("-C", "app", "build", "prod", timeout=900)
    assert r.code == 0, r
    cid = engine.run_detached("lablink-allocator:prod")
    try:
        wait_healthy(engine, cid)
    finally:
        engine.remove(cid)


def test_init_refuses_to_overwrite(proj):  # noqa: F811
    proj.write("app/pyproject.toml", '[project]\nname = "x"\n')
    proj.write("app/build.lua", "-- mine\n")
    r = proj.run("init", "app")
    assert r.code == 2 and "build.lua exists; dbx init does not overwrite it" in r.err, r
    assert proj.read("app/build.lua") == "-- mine\n"


def test_init_without_a_python_project(proj):  # noqa: F811
    proj.path("empty").mkdir()
    r = proj.run("init", "empty")
    assert r.code == 2, r
    assert "empty: no Python project here: there is no pyproject.toml or requirements.txt" in r.err, r
    assert not proj.exists("empty/build.lua")


def test_init_without_a_lock_file(proj):  # noqa: F811
    proj.write("app/pyproject.toml", '[project]\nname = "x"\nversion = "1"\n')
    r = proj.run("init", "app")
    assert r.code == 2 and "no lock file here" in r.err, r


@pytest.mark.parametrize("example, subdir, recipe_dir, image", [
    ("strain-seer", ".", "ex", "strain-seer:prod"),
    ("postura", "postura", "ex/postura", "postura:prod"),
    # a monorepo service: the recipe goes where its local packages are inside
    ("huleedu", "services/identity_service", "ex", "identity-service:prod"),
])
def test_init_on_each_example_builds_a_healthy_image(proj, engine, example, subdir, recipe_dir, image):  # noqa: F811
    """The example's project without its build.lua: `dbx init` writes one that
    builds, and the container (on the ports its code defaults to) turns healthy."""
    shutil.copytree(REPO / "examples" / example, proj.path("ex"),
                    ignore=shutil.ignore_patterns("build.lua", ".dbx", "Dockerfile*", "start.sh"))
    r = proj.run("init", f"ex/{subdir}")
    assert r.code == 0, r
    assert proj.exists(f"{recipe_dir}/build.lua"), r
    r = proj.run("-C", recipe_dir, "build", "prod", timeout=1800)
    assert r.code == 0, r
    cid = engine.run_detached(image)
    try:
        wait_healthy(engine, cid, timeout=180)
    finally:
        engine.remove(cid)
