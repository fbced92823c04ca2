"""`dbx init`: a first build.lua for an existing project, which builds an
image whose container starts and turns healthy."""

import json
import shutil
import time

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
