"""Strain Seer (examples/strain-seer): Poetry + Streamlit, built by dbx and
checked inside the running container against what its seed demands."""

import json

import pytest

from engine import free_port, wait_http
from test_lablink import built_example, engine  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def seer(tmp_path_factory, engine):  # noqa: F811
    return built_example(tmp_path_factory, engine, "strain-seer", "all", timeout=1800)


def test_prod_container_serves_streamlit_as_appuser(seer, engine):  # noqa: F811
    port = free_port()
    cid = engine.run_detached("strain-seer:prod", env={"STREAMLIT_SERVER_ADDRESS": "127.0.0.1",
                                                        "STREAMLIT_SERVER_PORT": str(port)})
    try:
        assert wait_http(f"http://127.0.0.1:{port}/_stcore/health", timeout=90).strip() == "ok"
        ex = lambda s, check=True: engine.exec(cid, s, check=check)
        assert ex("id -un; id -u").stdout.split() == ["appuser", "1000"]
        assert ex("echo $TMPDIR").stdout.strip() == "/tmp/app"
        assert ex("stat -c '%U' /tmp/app").stdout.strip() == "appuser"
        assert ex("touch /tmp/app/probe && echo ok").stdout.strip() == "ok"
        pkgs = ex("dpkg-query -W -f='${Package} ${Status}\\n' libgomp1 libfreetype6 libpng16-16 libjpeg62-turbo").stdout
        assert pkgs.count("install ok installed") == 4, pkgs
        assert ex("python -c 'import scipy, matplotlib, PIL, numpy, streamlit; print(1)'").stdout.strip() == "1"
        for tool in ("pytest", "ruff"):
            assert ex(f"python -c 'import {tool}'", check=False).returncode != 0, f"{tool} in prod"
        assert ex("command -v poetry", check=False).returncode != 0, "poetry in prod"
        assert sorted(ex("ls -A /app").stdout.split()) == [".venv", "start.sh"]
        cfg = json.loads(engine.docker("image", "inspect", "strain-seer:prod").stdout)[0]["Config"]
        assert "/_stcore/health" in " ".join(cfg["Healthcheck"]["Test"]) and "8501" in " ".join(cfg["Healthcheck"]["Test"])
        assert "8501/tcp" in cfg["ExposedPorts"]
        engine.docker("stop", cid)
        assert json.loads(engine.docker("inspect", cid).stdout)[0]["State"]["ExitCode"] == 0
    finally:
        engine.remove(cid)


def test_dev_image_has_the_dev_group_and_runs_the_tests(seer, engine):  # noqa: F811
    r = engine.docker("run", "--rm", "--pull", "never", "--network", "host", "--entrypoint", "/app/start.sh",
                      "strain-seer:dev", "sh", "-c", "cd /app && python -m pytest -q -p no:cacheprovider tests 2>&1 | tail -1")
    assert " passed" in r.stdout and "failed" not in r.stdout, r.stdout


def test_stale_poetry_lock_is_caught(seer):
    text = seer.read("pyproject.toml")
    seer.write("pyproject.toml", text.replace('"pillow (>=10,<14)",', '"pillow (>=10,<14)",\n    "six (>=1.16)",'),
               dedent=False)
    try:
        r = seer.build("strain-seer/lock")
        assert r.status["strain-seer/lock"] == "failed", r
        log = seer.read(".dbx/logs/strain-seer%2Flock.log")
        assert "poetry lock" in log, log
    finally:
        seer.write("pyproject.toml", text, dedent=False)
