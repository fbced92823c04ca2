"""LabLink on the real engine: `dbx build prod` and `dev` of examples/lablink,
checked from inside running containers, then the incremental behaviour of the
layers (source edit, lock edit, pruned image) and the ejected Dockerfile."""

import json

import pytest

from dbxtest import JsonResult, Project, dbx_path
from engine import Engine, copy_example, docker_wrapper, engine_env, free_port, wait_http

PROD = ["allocator/base", "allocator/lock", "allocator/prod/deps", "allocator/prod/source", "allocator/prod"]
DEV = ["allocator/dev/deps", "allocator/dev/source", "allocator/dev"]
APP = "allocator/src/lablink_allocator/app.py"


@pytest.fixture(scope="module")
def engine():
    env = engine_env()
    if env is None:
        pytest.fail("no container engine answers: run `make test-e2e` (it starts one) or scripts/engine.sh start")
    e = Engine(env)
    for ref in ("python:3.11-slim", "ghcr.io/astral-sh/uv:python3.11-bookworm-slim"):
        if not e.has_image(ref):
            pytest.fail(f"the engine lacks {ref}: run scripts/standins.sh")
    return e


class Lab(Project):
    """The LabLink example copied into a temp folder, built against the engine."""

    def __init__(self, root, side, engine, example="lablink"):
        """root gets a copy of examples/EXAMPLE (nothing when example is None)."""
        self.root, self.side, self.dbx = root, side, dbx_path()
        side.mkdir(parents=True, exist_ok=True)
        if example:
            copy_example(example, root)
        else:
            root.mkdir(parents=True, exist_ok=True)
        self.engine = engine
        self.docker_log = side / "docker-calls"
        self.wrapper = docker_wrapper(side / "bin", self.docker_log)

    def env(self, extra=None):
        env = super().env(extra=None)
        env.update(self.engine.env)
        env["DBX_PULL"] = "never"
        env["DBX_DOCKER"] = str(self.wrapper)
        env.update(extra or {})
        return env

    def docker_calls(self):
        try:
            return self.docker_log.read_text().splitlines()
        except FileNotFoundError:
            return []

    def edit(self, rel, old, new):
        text = self.read(rel)
        assert old in text, (rel, old)
        self.write(rel, text.replace(old, new, 1), dedent=False)


def built_example(tmp_path_factory, engine, example, target, timeout=1800):
    """examples/EXAMPLE copied to a temp folder and TARGET built there; the
    first build's result is kept as .first."""
    base = tmp_path_factory.mktemp(example)
    lab = Lab(base / example, base / "side", engine, example=example)
    r = lab.build(target, timeout=timeout)
    assert r.done["status"] == "ok", r
    lab.first = r
    return lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory, engine):
    return built_example(tmp_path_factory, engine, "lablink", "all", timeout=900)


def inside_prod_checks(engine, image):
    """What the seed demands of the production image, checked in a running container."""
    port = free_port()
    cid = engine.run_detached(image, env={"ALLOCATOR_PORT": str(port)})
    try:
        health = json.loads(wait_http(f"http://127.0.0.1:{port}/health"))
        assert health["status"] == "ok"
        assert health["python"].startswith("3.11."), health
        ex = lambda s, check=True: engine.exec(cid, s, check=check)
        assert ex("/app/.venv/bin/python -c 'import sys; print(sys.version_info[:2])'").stdout.strip() == "(3, 11)"
        assert ex("id -u").stdout.strip() != "0"
        assert ex("command -v lablink-allocator").stdout.strip() == "/app/.venv/bin/lablink-allocator"
        assert "CREATE TABLE" in ex("generate-init-sql").stdout
        for tool in ("pytest", "ruff", "coverage"):
            r = ex(f"/app/.venv/bin/python -c 'import {tool}'", check=False)
            assert r.returncode != 0, f"{tool} is in the prod image"
        assert ex("command -v uv", check=False).returncode != 0, "uv is in the prod image"
        assert sorted(ex("ls -A /app").stdout.split()) == [".venv", "start.sh"]
        assert ex("find / -xdev -name test_app.py 2>/dev/null; true").stdout.strip() == ""
        start = ex("cat /app/start.sh").stdout
        assert ". /app/.venv/bin/activate" in start and 'exec "$@"' in start
        engine.docker("stop", cid)
        state = json.loads(engine.docker("inspect", cid).stdout)[0]["State"]
        assert state["ExitCode"] == 0, state
    finally:
        engine.remove(cid)


def test_first_build_builds_every_layer(lab):
    assert set(PROD + DEV) <= lab.first.built, lab.first


def test_prod_image_holds_what_runs_and_nothing_else(lab, engine):
    inside_prod_checks(engine, "allocator:prod")


def test_dev_image_has_the_dev_tools_and_an_editable_install(lab, engine):
    cid = engine.run_detached("allocator:dev", env={"ALLOCATOR_PORT": str(free_port())})
    try:
        ex = lambda s: engine.exec(cid, s)
        for tool in ("pytest", "ruff", "coverage"):
            ex(f"command -v {tool}")
        assert ex("python -c 'import lablink_allocator as m; print(m.__file__)'").stdout.strip() \
            == "/app/src/lablink_allocator/__init__.py"
        out = ex("cd /app && python -m pytest -q -p no:cacheprovider tests").stdout
        assert " passed" in out and "failed" not in out, out
        assert ex("id -u").stdout.strip() != "0"
    finally:
        engine.remove(cid)


def test_second_build_is_all_cached_without_docker(lab):
    before = len(lab.docker_calls())
    assert before > 0, "the first build did not go through the docker wrapper"
    r = lab.build("prod")
    assert r.done["status"] == "ok", r
    assert r.cached >= set(PROD) and not r.built, r
    assert len(lab.docker_calls()) == before, "a no-op build ran docker"


def test_source_edit_rebuilds_source_and_entrypoint_only(lab, engine):
    lab.edit(APP, 'status="ok"', 'status="ok", edited=True')
    ex = lab.run("explain", "allocator/prod/source")
    assert f"input {APP} changed" in ex.out, ex
    r = lab.build("prod")
    assert r.built == {"allocator/prod/source", "allocator/prod"}, r
    assert {"allocator/base", "allocator/prod/deps", "allocator/lock"} <= r.cached, r
    port = free_port()
    cid = engine.run_detached("allocator:prod", env={"ALLOCATOR_PORT": str(port)})
    try:
        assert json.loads(wait_http(f"http://127.0.0.1:{port}/health"))["edited"] is True
    finally:
        engine.remove(cid)


def test_lock_edit_rebuilds_deps_and_above_not_base(lab):
    lab.write("allocator/uv.lock", lab.read("allocator/uv.lock") + "# touched by a test\n", dedent=False)
    ex = lab.run("explain", "allocator/prod/deps")
    assert "input allocator/uv.lock changed" in ex.out, ex
    r = lab.build("prod")
    assert {"allocator/prod/deps", "allocator/prod/source", "allocator/prod"} <= r.built, r
    assert "allocator/base" in r.cached, r


def test_a_removed_image_is_rebuilt(lab, engine):
    tag = [t for t in engine.docker("image", "ls", "--filter", "label=dbx.target=allocator/prod",
                                    "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
           if "<none>" not in t]  # untagged ones left by earlier builds have no name to remove by
    assert tag, "no image labelled for allocator/prod"
    engine.docker("rmi", "-f", *tag, "allocator:prod")
    ex = lab.run("explain", "allocator/prod")
    assert "no longer in the engine" in ex.out, ex
    r = lab.build("prod")
    assert r.built == {"allocator/prod"}, r
    assert engine.has_image("allocator:prod")


def test_generated_dockerfile_builds_an_equivalent_image(lab, engine):
    r = lab.run("gen", "allocator")
    assert r.code == 0 and "Dockerfile" in r.out, r
    folder = lab.path("allocator")
    assert (folder / "Dockerfile").is_file() and (folder / "Dockerfile.dev").is_file()
    # Dockerfile installs the published release; Dockerfile.source builds this checkout
    engine.docker("build", "--network", "host", "-f", "Dockerfile.source", "-t", "dbx-gen-test/allocator:prod", ".",
                  cwd=folder, extra_env={"DOCKER_BUILDKIT": "1"}, timeout=900)
    try:
        inside_prod_checks(engine, "dbx-gen-test/allocator:prod")
    finally:
        engine.docker("rmi", "-f", "dbx-gen-test/allocator:prod", check=False)
