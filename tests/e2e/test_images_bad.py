"""Image targets and python.service fed bad input, on the real engine: each
gives a clear message and the right exit code, and records nothing it should not."""

import shutil

import pytest

from dbxtest import REPO
from engine import pump

from test_lablink import engine  # noqa: F401  (the module fixture)

ALLOCATOR = REPO / "examples/lablink/allocator"


@pytest.fixture
def proj(project, engine):  # noqa: F811
    """An empty project whose dbx runs talk to the test engine."""
    base_env = project.env

    def env(extra=None):
        e = base_env(None)
        e.update(engine.env)
        e["DBX_PULL"] = "never"
        e.update(extra or {})
        return e

    project.env = env
    return project


def service(proj, fields="", files=("pyproject.toml", "uv.lock", "README.md", "src")):
    for f in files:
        src = ALLOCATOR / f
        if src.is_dir():
            shutil.copytree(src, proj.path("app") / f)
        else:
            proj.path("app").mkdir(exist_ok=True)
            shutil.copy(src, proj.path("app") / f)
    proj.recipe(f'''\
        local python = require "dbx.python"
        python.service "svc" {{
          dir = "app", port = 5000, cmd = {{ "lablink-allocator" }},
          {fields}
        }}
        ''')


def test_unknown_manager(proj):
    service(proj, 'manager = "conda",')
    r = proj.run("build", "prod")
    assert r.code == 2, r
    assert "build.lua:2: python.service 'svc': unknown manager 'conda' (this dbx knows: uv, pdm, poetry, pip)" in r.err, r


def test_missing_lock_file(proj):
    service(proj, 'manager = "uv",', files=("pyproject.toml", "README.md", "src"))
    r = proj.run("build", "prod")
    assert r.code == 2, r
    assert "python.service 'svc': manager 'uv' needs uv.lock in app" in r.err, r


def test_no_lock_file_to_detect(proj):
    service(proj, files=("pyproject.toml", "README.md", "src"))
    r = proj.run("build", "prod")
    assert r.code == 2, r
    assert "no lock file in app (looked for uv.lock, pdm.lock, poetry.lock, requirements.txt)" in r.err, r


def test_stale_lock_fails_the_check_and_says_to_run_uv_lock(proj):
    service(proj)
    text = proj.read("app/pyproject.toml").replace('"flask>=3.0,<4",', '"flask>=3.0,<4",\n    "itsdangerous>=2",')
    proj.write("app/pyproject.toml", text, dedent=False)
    r = proj.build("prod")
    assert r.code == 1, r
    assert r.status["svc/lock"] == "failed", r
    assert r.status["svc/prod/deps"] == "skipped", r
    log = proj.read(".dbx/logs/svc%2Flock.log")
    assert "run `uv lock`" in log, log


def test_missing_base_image_that_cannot_be_pulled(proj):
    service(proj, 'base = "python:3.99-slim",')
    r = proj.build("svc/base")
    assert r.code == 1, r
    assert "base image 'python:3.99-slim' is not in the engine" in r.error_of("svc/base"), r


def test_failing_run_shows_the_command_and_records_nothing(proj):
    proj.recipe('''\
        image "bad" {
          dockerfile = "FROM python:3.11-slim\\nRUN echo about to fail && false\\n",
        }
        ''')
    r = proj.run("build")
    assert r.code == 1, r
    assert "echo about to fail && false" in r.out, r
    assert "docker build failed" in r.out, r
    store = proj.read(".dbx/store")
    assert "\tbad\t" not in store, store
    r2 = proj.build()
    assert r2.status == {"bad": "failed"}, r2  # nothing recorded: it runs again


def test_engine_unreachable(proj):
    proj.recipe('image "x" { dockerfile = "FROM python:3.11-slim\\n" }\n')
    sock = proj.side / "no-engine.sock"
    r = proj.run("build", env={"DOCKER_HOST": f"unix://{sock}"})
    assert r.code == 2, r
    assert f"cannot reach the container engine at unix://{sock}" in r.err, r
    assert "scripts/engine.sh start" in r.err, r


def test_engine_unreachable_with_k_still_runs_host_side_targets(proj):
    proj.recipe('''\
        image "x" { dockerfile = "FROM python:3.11-slim\\n" }
        image "y" { deps = { "x" }, dockerfile = "FROM {{dep:x}}\\n" }
        target "host-side" { run = { "sh", "-c", "echo fine > side.txt" }, outputs = { "side.txt" } }
        ''')
    sock = proj.side / "no-engine.sock"
    r = proj.build("-k", env={"DOCKER_HOST": f"unix://{sock}"})
    assert r.code == 1, r
    assert f"cannot reach the container engine at unix://{sock}" in r.err, r
    assert r.status == {"x": "failed", "y": "skipped", "host-side": "built"}, r
    assert proj.read("side.txt") == "fine\n"
    records = [line.split("\t")[1] for line in proj.read(".dbx/store").splitlines()[1:] if "\t" in line]
    assert records == ["host-side"]


def test_docker_client_without_buildkit(proj):
    fake = proj.side / "bin"
    fake.mkdir()
    (fake / "docker").write_text('#!/bin/sh\n[ "$1" = buildx ] && exit 1\necho "Docker version 28.2.2, build x"\n')
    (fake / "docker").chmod(0o755)
    proj.recipe('image "x" { dockerfile = "FROM python:3.11-slim\\nRUN true\\n" }\n')
    r = proj.build(env={"PATH": str(fake), "DBX_DOCKER": ""})
    assert r.code == 1, r
    err = r.error_of("x")
    assert "no docker client here can build with BuildKit" in err, err
    assert f"{fake}/docker: version 28 has no buildx plugin" in err, err


def test_image_input_outside_its_context(proj):
    proj.write("other/file.txt", "x\n")
    proj.recipe(f'''\
        image "x" {{ context = "app", inputs = {{ "other/file.txt" }},
                    dockerfile = "FROM python:3.11-slim\\n" }}
        ''')
    proj.path("app").mkdir()
    r = proj.run("build")
    assert r.code == 2, r
    assert "input 'other/file.txt' is outside its context folder 'app'" in r.err, r


def test_context_leaves_out_secrets_and_dockerignored_files(proj, engine):  # noqa: F811
    proj.write("app/main.py", "print('hi')\n")
    proj.write("app/.env", "TOKEN=secret\n")
    proj.write("app/id_rsa", "-----BEGIN KEY-----\n")
    proj.write("app/notes.tmp", "scratch\n")
    proj.write("app/.git/config", "[core]\n")
    proj.write("app/.venv/bin/python", "#!/bin/sh\n")
    proj.write("app/.dbx/store", "x\n")
    proj.write("app/__pycache__/main.cpython-311.pyc", "x")
    proj.write("app/server.pem", "-----BEGIN PRIVATE KEY-----\n")
    proj.write("app/deploy.key", "k\n")
    proj.write("app/id_ed25519", "k\n")
    proj.write("app/.env.production", "TOKEN=secret\n")
    proj.write("app/.dockerignore", "*.tmp\n")
    proj.recipe(f'''\
        image "x" {{ context = "app", inputs = {{ "app/**" }}, tags = {{ "dbx-test/context:latest" }},
                    dockerfile = "FROM python:3.11-slim\\nCOPY . /ctx\\n" }}
        ''')
    r = proj.build()
    assert r.code == 0, r
    try:
        out = engine.docker("run", "--rm", "--pull", "never", "--network", "host",
                            "dbx-test/context:latest", "ls", "-A", "/ctx").stdout.split()
        assert sorted(out) == [".dockerignore", "main.py"], out
    finally:
        engine.docker("rmi", "-f", "dbx-test/context:latest", check=False)


def test_dep_placeholder_must_name_an_image_dependency(proj):
    proj.recipe('image "x" { dockerfile = "FROM {{dep:nothing}}\\n" }\n')
    r = proj.build()
    assert r.code == 1, r
    assert "names {{dep:nothing}}, which is not one of its image dependencies" in r.error_of("x"), r


@pytest.mark.parametrize("fields, words", [
    ('user = "root x",', "user must be a user name"),
    ('apt = { "curl; rm -rf /" },', "apt package: 'curl; rm -rf /' is not a valid name"),
    ('health = "/health",', None),
    ('helth = "/health",', "unknown field 'helth' — did you mean 'health'?"),
    ('port = "80",', "field 'port' must be a number, got string"),
])
def test_service_field_checks(proj, fields, words):
    service(proj, fields)
    r = proj.run("targets")
    if words is None:
        assert r.code == 0, r
    else:
        assert r.code == 2, r
        assert words in r.err, r


class SocketProxy:
    """Forwards a unix socket to the engine's, until stopped: an engine that
    goes away in the middle of a build, without stopping the real one."""

    def __init__(self, path, target):
        import socket
        import threading
        self.path, self.target = str(path), target
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(self.path)
        self.srv.listen(64)
        self.conns = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        import threading
        while not self.stopped:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            u = socket.socket(socket.AF_UNIX)
            u.connect(self.target)
            self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    def stop(self):
        import os
        self.stopped = True
        self.srv.close()
        for s in self.conns:
            try:
                s.shutdown(2)
                s.close()
            except OSError:
                pass
        if os.path.exists(self.path):
            os.unlink(self.path)


def test_engine_gone_mid_build_fails_cleanly_and_the_next_build_recovers(proj, engine):  # noqa: F811
    host = engine.env["DOCKER_HOST"]
    if not host.startswith("unix://"):
        pytest.skip("needs a unix-socket engine")
    import uuid
    nonce = uuid.uuid4().hex  # BuildKit must not have these steps cached from an earlier run
    proj.recipe('''\
        image "first" { dockerfile = "FROM python:3.11-slim\\nRUN echo NONCE > /first\\n" }
        image "slow" {
          deps = { "first" },
          dockerfile = "FROM {{dep:first}}\\nRUN echo started NONCE && sleep 6 && echo done > /slow\\n",
        }
        target "host-side" { run = { "sh", "-c", "sleep 1; echo fine > side.txt" }, outputs = { "side.txt" } }
        '''.replace("NONCE", nonce))
    sock = proj.side / "engine.sock"
    proxy = SocketProxy(sock, host[len("unix://"):])
    env = {"DOCKER_HOST": f"unix://{sock}"}
    run = proj.spawn("-k", env=env)
    try:
        run.wait_event(lambda e: e["event"] == "start" and e["target"] == "slow", timeout=120)
        import time
        time.sleep(1.5)  # the docker build of "slow" is under way
        proxy.stop()
        r = run.finish(timeout=120)
    finally:
        run.kill()
        proxy.stop()
    assert r.code == 1, r
    assert r.done["status"] == "failed", r
    assert "docker build failed" in r.error_of("slow"), r
    assert r.status["first"] == "built", r
    assert r.status["slow"] == "failed", r
    assert r.status["host-side"] == "built", r  # -k: independent host-side work finishes
    assert "\tslow\t" not in proj.read(".dbx/store")
    # the engine is back (directly this time): what finished is reused, the rest builds
    r2 = proj.build()
    assert r2.done["status"] == "ok", r2
    assert r2.status["first"] == "cached" and r2.status["host-side"] == "cached", r2
    assert r2.status["slow"] == "built", r2


def test_unknown_apt_package_is_named(proj):
    service(proj, 'apt = { "curl", "no-such-package-dbx" },')
    r = proj.build("svc/base")
    assert r.code == 1, r
    assert "E: Unable to locate package no-such-package-dbx" in r.error_of("svc/base"), r
