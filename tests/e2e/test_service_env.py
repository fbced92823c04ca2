"""python.service: what builds an image stays out of it, and what runs it
stays out of its build: build-only Debian packages (build_apt), the install
steps' environment (build_env), the runtime environment (env), env files;
and the host-side lock check, which says which failure it is."""

import json
import shutil
import signal
import subprocess

import pytest

from dbxtest import REPO
from engine import wait_http
from test_images_bad import proj  # noqa: F401  (fixture)
from test_lablink import engine  # noqa: F401  (fixture)


def inside(engine, image, script):  # noqa: F811
    r = engine.docker("run", "--rm", "--network", "host", "--entrypoint", "sh", image, "-c", script, check=False)
    return r.stdout.strip()


def test_build_only_packages_compile_a_wheel_and_stay_out_of_prod(proj, engine):  # noqa: F811
    """psycopg2 from its source distribution: gcc, libpq's headers and
    Python's headers (the stand-in base has none) in the builder only; the
    prod image keeps libpq5 to load it, and no compiler."""
    proj.write("svc/requirements.txt", "psycopg2==2.9.10 --no-binary psycopg2\n")
    proj.write("svc/app.py", "import psycopg2\nprint(psycopg2.__libpq_version__)\n")
    proj.write("svc/build.lua", """\
        local python = require "dbx.python"
        python.service "pgapp" {
          apt = { "libpq5" },
          build_apt = { "gcc", "libpq-dev", "python3-dev" },
          cmd = { "python", "app.py" },
        }
        """)
    r = proj.build("-C", "svc", "prod", "pgapp/dev", timeout=1200)
    assert r.code == 0, r
    assert r.status["pgapp/builder"] == "built", r
    out = engine.docker("run", "--rm", "--network", "host", "pgapp:prod").stdout.strip()
    assert out.isdigit() and int(out) >= 150000, out  # libpq's version, from the compiled module
    assert inside(engine, "pgapp:prod", "command -v gcc || echo none") == "none"
    assert inside(engine, "pgapp:prod", "dpkg -s libpq-dev >/dev/null 2>&1 && echo dev || echo runtime") == "runtime"
    assert inside(engine, "pgapp:prod", "dpkg -s libpq5 >/dev/null 2>&1 && echo yes") == "yes"
    # the dev image is built on the builder: its compilers are there to build more
    assert inside(engine, "pgapp:dev", "command -v gcc") == "/usr/bin/gcc"


def test_build_env_reaches_the_install_step_and_not_the_image(proj, engine):  # noqa: F811
    proj.write("svc/requirements.txt", "six==1.17.0\n")
    proj.write("svc/app.py", "print('hi')\n")
    recipe = """\
        local python = require "dbx.python"
        python.service "benv" {
          build_env = { PIP_INDEX_URL = "%s", PIP_RETRIES = "0", PIP_TIMEOUT = "2" },
          env = { RUN_MODE = "a $literal value" },
          cmd = { "python", "app.py" },
        }
        """
    # an index nothing listens on: the install step fails through it
    proj.write("svc/build.lua", recipe % "http://127.0.0.1:9/simple")
    r = proj.build("-C", "svc", "benv/prod", timeout=600)
    assert r.code == 1 and r.status["benv/prod/deps"] == "failed", r
    log = proj.read("svc/.dbx/logs/benv%2Fprod%2Fdeps.log")
    assert "127.0.0.1" in log, log
    proj.write("svc/build.lua", recipe % "https://pypi.org/simple")
    r = proj.build("-C", "svc", "benv/prod", timeout=600)
    assert r.code == 0, r
    env = json.loads(engine.docker("image", "inspect", "-f", "{{json .Config.Env}}", "benv:prod").stdout)
    assert "RUN_MODE=a $literal value" in env, env
    assert not any(e.startswith("PIP_INDEX_URL=") for e in env), env
    # changing the runtime env rebuilds the final layer alone
    proj.write("svc/build.lua", (recipe % "https://pypi.org/simple").replace("a $literal value", "b"))
    r = proj.build("-C", "svc", "benv/prod", timeout=600)
    st = r.status
    assert st["benv/prod"] == "built" and st["benv/prod/deps"] == "cached" and st["benv/prod/source"] == "cached", st


LOCK_PROJECT = """\
    [project]
    name = "lk"
    version = "0.1.0"
    requires-python = "%s"
    dependencies = [%s]
    """


def uv_project(proj, requires, deps):  # noqa: F811
    proj.write("svc/pyproject.toml", LOCK_PROJECT % (requires, deps))
    proj.write("svc/app.py", "")
    proj.write("svc/build.lua", """\
        local python = require "dbx.python"
        python.service "lk" { cmd = { "python", "app.py" } }
        """)


def test_a_stale_lock_says_so_with_uv_s_own_words(proj):  # noqa: F811
    uv_project(proj, ">=3.10", "")
    r = proj.run("-C", "svc", "build", "lk/lock")  # no lock yet
    assert r.code == 2 and "no lock file in ." in r.err, r
    subprocess.run(["uv", "lock", "--offline"], cwd=proj.path("svc"), check=True, capture_output=True,
                   env={**proj.env(), "UV_PYTHON_DOWNLOADS": "never"})
    r = proj.build("-C", "svc", "lk/lock")
    assert r.code == 0, r
    proj.write("svc/pyproject.toml", LOCK_PROJECT % (">=3.10", '"six"'))
    r = proj.build("-C", "svc", "lk/lock")
    assert r.code == 1, r
    log = proj.read("svc/.dbx/logs/lk%2Flock.log")
    assert "the lock file is out of date with pyproject.toml: run `uv lock`" in log, log
    assert "uv said:" in log and "needs to be updated" in log, log


def test_uv_s_check_without_a_fitting_host_python_is_left_to_the_image(proj):  # noqa: F811
    """No Python here fits requires-python: uv cannot check the lock on this
    machine; the check says so and passes, and the deps layer's `uv sync
    --locked` checks it with the image's own Python."""
    uv_project(proj, ">=3.19", "")
    proj.write("svc/uv.lock", "version = 1\nrequires-python = \">=3.19\"\n")
    r = proj.build("-C", "svc", "lk/lock")
    assert r.code == 0, r
    log = proj.read("svc/.dbx/logs/lk%2Flock.log")
    assert "no Python on this machine fits requires-python" in log and "uv sync --locked" in log, log


def test_a_lock_check_that_cannot_run_is_no_stale_lock(proj):  # noqa: F811
    uv_project(proj, ">=3.10", "")
    proj.write("svc/uv.lock", "version = 1\n")
    proj.write("svc/pyproject.toml", "[project]\nname = \"lk\"\nversion = \"0.1.0\"\ndependencies = \"six\"\n")
    r = proj.build("-C", "svc", "lk/lock")
    assert r.code == 1, r
    log = proj.read("svc/.dbx/logs/lk%2Flock.log")
    assert "uv could not check the lock (the lock itself may be fine)" in log, log
    assert "out of date" not in log, log


@pytest.mark.parametrize("tool", ["poetry", "pdm"])
def test_poetry_and_pdm_stale_locks_name_their_fix(proj, tool):  # noqa: F811
    src = {"poetry": "pantry", "pdm": "notes"}[tool]
    shutil.copytree(REPO / "tests/e2e/projects" / src, proj.path("svc"))
    proj.write("svc/build.lua", """\
        local python = require "dbx.python"
        python.service "lk" { port = 8000, cmd = { "python", "-c", "pass" } }
        """)
    r = proj.build("-C", "svc", "lk/lock")
    assert r.code == 0, r
    text = proj.read("svc/pyproject.toml")
    proj.write("svc/pyproject.toml", text.replace("dependencies = [", 'dependencies = [\n    "six",', 1)
               if tool == "pdm" else text.replace('flask = "^3.0"', 'flask = "^3.0"\nsix = "*"'), dedent=False)
    r = proj.build("-C", "svc", "lk/lock")
    assert r.code == 1, r
    log = proj.read("svc/.dbx/logs/lk%2Flock.log")
    assert f"the lock file is out of date with pyproject.toml: run `{tool} lock`" in log, log


def test_dev_gives_the_container_the_env_file_and_the_image_never_holds_it(proj, engine):  # noqa: F811
    """greeter's compose file names .env: `dbx init` writes env_file, `dbx dev`
    starts the container with its lines (read afresh for each container), and
    neither the dev nor the prod image holds the file or its values."""
    shutil.copytree(REPO / "tests/e2e/projects/greeter", proj.path("greeter"))
    proj.write("greeter/.env", "# local settings\nTARGET='the env file'\nexport SECRET_TOKEN=s3cr3t\n")
    r = proj.run("init", "greeter")
    assert r.code == 0, r
    assert 'env_file = ".env",' in proj.read("greeter/build.lua")
    run = proj.spawn("-C", "greeter", "dev")
    try:
        ready = run.wait_event(lambda e: e["event"] == "ready", timeout=900)
        assert "hello, the env file" in wait_http("http://127.0.0.1:9000/", timeout=90), ready
        cid = ready["container_id"]
        assert "SECRET_TOKEN=s3cr3t" in engine.exec(cid, "env").stdout
    finally:
        run.proc.send_signal(signal.SIGINT)
        done = run.finish(timeout=60)
    assert done.code in (0, 130), done
    for image in ("greeter:dev", "greeter:prod"):
        if image == "greeter:prod":
            assert proj.build("-C", "greeter", "greeter/prod", timeout=600).code == 0
        env = json.loads(engine.docker("image", "inspect", "-f", "{{json .Config.Env}}", image).stdout)
        assert not any("SECRET_TOKEN" in e or "the env file" in e for e in env), env
        assert inside(engine, image, "ls -A . | grep -c '^.env$' || true") == "0"


@pytest.mark.parametrize("lock, poetry", [
    ('[metadata]\ncontent-hash = "x"\npython-versions = "^3.7"\n\n[metadata.files]\n', "1.8.5"),  # Poetry < 1.1
    ('[metadata]\nlock-version = "1.1"\ncontent-hash = "x"\n', "1.8.5"),
    ('[metadata]\nlock-version = "2.1"\ncontent-hash = "x"\n', "2.5.1"),
])
def test_the_poetry_that_installs_is_one_that_reads_the_lock(proj, lock, poetry):  # noqa: F811
    """Poetry 2 refuses locks Poetry 1 wrote ("The lock file is not compatible
    with the current version of Poetry"): those install with Poetry 1.8."""
    proj.write("svc/pyproject.toml", '[tool.poetry]\npackage-mode = false\n\n[tool.poetry.dependencies]\n'
               'python = "^3.7"\nflask = "^1.1"\n')
    proj.write("svc/poetry.lock", lock)
    proj.write("svc/app.py", "")
    proj.write("svc/build.lua", 'local python = require "dbx.python"\n'
               'python.service "svc" { cmd = { "python", "app.py" } }\n')
    r = proj.run("-C", "svc", "gen", "svc/prod")
    assert r.code == 0, r
    assert f"pip install -q poetry=={poetry} " in proj.read("svc/Dockerfile"), proj.read("svc/Dockerfile")


def test_a_service_s_network_applies_to_its_images_only(proj):  # noqa: F811
    """network = "host" is documented for python.service: its images build
    there; the host-side lock check, a command, has no build network."""
    proj.write("svc/requirements.txt", "six==1.17.0\n")
    proj.write("svc/app.py", "")
    proj.write("svc/build.lua", 'local python = require "dbx.python"\n'
               'python.service "net" { network = "host", cmd = { "python", "app.py" } }\n')
    r = proj.run("-C", "svc", "targets")
    assert r.code == 0, r
    assert "net/lock" in r.out and "net/prod/deps" in r.out, r
