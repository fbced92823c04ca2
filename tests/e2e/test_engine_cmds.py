"""`dbx engine` and `dbx clean --images` against the real engine."""

import re

from test_images_bad import proj  # noqa: F401  (fixture)
from test_lablink import engine  # noqa: F401  (fixture)


def test_engine_command_names_the_engine_and_the_client(proj):  # noqa: F811
    r = proj.run("engine")
    assert r.code == 0, r
    assert "engine:  unix://" in r.out and "version: " in r.out and "(API " in r.out, r
    assert "builds:  " in r.out and "docker" in r.out, r


def test_engine_command_without_an_engine(proj):  # noqa: F811
    r = proj.run("engine", env={"DOCKER_HOST": f"unix://{proj.side}/none.sock"})
    assert r.code == 2, r
    assert "cannot reach the container engine" in r.err and "there is no such socket" in r.err, r


def test_clean_images_removes_the_projects_images_and_the_next_build_rebuilds(proj, engine):  # noqa: F811
    proj.recipe('''\
        image "one" { dockerfile = "FROM python:3.11-slim\\nLABEL purpose=clean-test\\n",
                      tags = { "dbx-test/clean-one:latest" } }
        ''')
    assert proj.build().status == {"one": "built"}
    assert engine.has_image("dbx-test/clean-one:latest")
    r = proj.run("clean", "--images")
    assert r.code == 0, r
    # other tests' projects are named "proj" too: their leftovers may go as well
    assert re.search(r"removed [1-9]\d* images? of project proj", r.out), r
    assert not engine.has_image("dbx-test/clean-one:latest")
    assert engine.has_image("python:3.11-slim"), "clean removed a base image"
    assert proj.build().status == {"one": "built"}
    proj.run("clean", "--images")
