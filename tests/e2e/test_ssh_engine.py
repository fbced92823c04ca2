"""An engine reached as DOCKER_HOST=ssh://USER@HOST:PORT, as the docker CLI
reaches one: an sshd on 127.0.0.1 whose login runs `docker system dial-stdio`
against the test engine. dbx asks it about images, builds through it, and
`dbx dev` copies files in through the archive API, restarts the app through
the kill API and checks its health from inside the container (an engine over
ssh is taken to be on another machine, where the app's port is)."""

import signal
import subprocess
import time

import pytest

from engine import free_port
from servers import SSHEngine
from test_dev import dev_containers, get, kill_events, port_free
from test_lablink import Lab, engine  # noqa: F401  (engine is a fixture)

APP = "allocator/src/lablink_allocator/app.py"


@pytest.fixture(scope="module")
def ssh(engine):  # noqa: F811
    host = engine.env["DOCKER_HOST"]
    if not host.startswith("unix://"):
        pytest.skip("the test sshd serves the engine's unix socket")
    s = SSHEngine(host)
    yield s
    s.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, engine):  # noqa: F811
    base = tmp_path_factory.mktemp("ssh")
    return Lab(base / "lablink", base / "side", engine)


def exec_commands(lab, cid, since):
    """The commands run in cid through the exec API since the unix time since."""
    out = lab.engine.docker("events", "--since", str(since), "--until", str(int(time.time()) + 1),
                            "--filter", f"container={cid}", "--filter", "event=exec_create",
                            "--format", "{{.Action}}").stdout
    return [line.split(": ", 1)[-1] for line in out.splitlines() if line.strip()]


def test_dbx_engine_answers_over_ssh(lab, ssh):
    r = lab.run("engine", env=ssh.env())
    assert r.code == 0, r
    assert f"engine:  {ssh.url}" in r.out and "version: " in r.out, r


def test_a_build_goes_through_ssh(lab, ssh, engine):  # noqa: F811
    r = lab.build("allocator/prod", env=ssh.env(), timeout=900)
    assert r.done["status"] == "ok", r
    assert engine.has_image("allocator:prod")
    again = lab.build("allocator/prod", env=ssh.env())
    assert not again.built and again.cached >= {"allocator/prod"}, again


def test_dev_over_ssh_copies_through_the_archive_api(lab, ssh):
    if not port_free(5000):
        pytest.fail("127.0.0.1:5000 is taken; the allocator example serves there")
    run = lab.spawn("dev", "allocator", "--watch", env=ssh.env())
    try:
        ready = run.wait_event(lambda e: e["event"] == "ready", timeout=900)
        assert ready["sync"] == "files copied through the engine API", ready
        cid = ready["container_id"]
        since = int(time.time()) - 1
        lab.edit(APP, 'return jsonify(status="ok",', 'return jsonify(status="ok", over_ssh=1,')
        ev = run.wait_event(lambda e: e["event"] == "reload", timeout=60)
        assert "error" not in ev, ev
        assert get(5000).get("over_ssh") == 1
        assert dev_containers(lab.engine, lab) == [cid]
        assert kill_events(lab, cid, since) == ["1"], "SIGHUP through the kill API"
        ran = exec_commands(lab, cid, since)
        assert "/.dbx/dbx-init --probe 5000 /health" in ran, f"the health check runs inside the container: {ran}"
    finally:
        run.proc.send_signal(signal.SIGINT)
        done = run.finish(timeout=60)
    assert done.code == 130, done
    assert dev_containers(lab.engine, lab) == []
    left = subprocess.run(["pgrep", "-f", f"ssh.*-p {ssh.port}"], capture_output=True, text=True).stdout
    assert left.strip() == "", f"ssh processes left: {left}"


def test_an_ssh_engine_that_does_not_answer_is_a_clear_error(lab, ssh):
    port = free_port()
    env = dict(ssh.env(), DOCKER_HOST=f"ssh://root@127.0.0.1:{port}")
    r = lab.run("engine", env=env)
    assert r.code == 2, r
    assert f"cannot reach the container engine at ssh://root@127.0.0.1:{port} over ssh" in r.err, r
    assert f"port {port}: Connection refused" in r.err, r


@pytest.mark.parametrize("url", ["ssh://", "ssh://-oProxyCommand=x", "ssh://host:port", "ssh://us er@host"])
def test_a_malformed_ssh_address_is_refused(lab, url):
    r = lab.run("engine", env={"DOCKER_HOST": url})
    assert r.code == 2, r
    assert "an ssh engine is named ssh://[USER@]HOST[:PORT]" in r.err, r
