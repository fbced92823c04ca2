"""The LabLink client on the real engine: dev and prod images on the CUDA
stand-in, check_gpu answering honestly, the release image installed from a
package index served on loopback at the version given as PACKAGE_VERSION, and
`dbx dev` asking for GPUs."""

import hashlib
import json
import shutil
import signal
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dbxtest import REPO, dbx_path
from engine import free_port
from test_lablink import Lab, engine  # noqa: F401  (engine is a fixture)

VERSION = "0.3.0"  # examples/lablink/client/pyproject.toml
WHEEL = f"client/dist/lablink_client-{VERSION}-py3-none-any.whl"
CUDA = "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04"
NO_GPU = "check_gpu: no usable GPU: the NVIDIA driver library (libnvidia-ml.so.1) was not found"


@pytest.fixture(scope="module")
def lab(tmp_path_factory, engine):  # noqa: F811
    if not engine.has_image(CUDA):
        pytest.fail(f"the engine lacks {CUDA}: run scripts/standins.sh")
    base = tmp_path_factory.mktemp("client")
    lab = Lab(base / "lablink", base / "side", engine)
    r = lab.build("client/dev", "client/prod", "client/wheel", timeout=1500)
    assert r.done["status"] == "ok", r
    return lab


def run(engine, image, script, check=True):
    return engine.docker("run", "--rm", "--pull", "never", "--network", "host", "--entrypoint", "sh",
                         image, "-c", script, check=check)


class Index:
    """A PEP 503 package index on 127.0.0.1 serving the given wheels; it
    records every path asked for."""

    def __init__(self, root, wheels):
        for w in wheels:
            project = w.name.split("-")[0].replace("_", "-").lower()
            folder = root / "simple" / project
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(w, folder / w.name)
            digest = hashlib.sha256(w.read_bytes()).hexdigest()
            (folder / "index.html").write_text(
                f'<!DOCTYPE html><html><body><a href="{w.name}#sha256={digest}">{w.name}</a></body></html>\n')
        self.asked = []
        index = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, fmt, *args):
                index.asked.append(self.path)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def index(lab, tmp_path_factory):
    idx = Index(tmp_path_factory.mktemp("index"), [lab.path(WHEEL)])
    yield idx
    idx.close()


def test_the_wheel_is_built_on_the_host_and_cached(lab):
    assert lab.path(WHEEL).is_file()
    r = lab.build("client/wheel")
    assert r.cached == {"client/wheel"} and not r.built, r


def test_dev_image_has_the_venv_the_scripts_and_the_dev_tools(lab, engine):
    out = run(engine, "client:dev", """
        set -e
        for t in python subscribe check_gpu update_inuse_status pytest ruff coverage; do command -v $t; done
        python -c 'import sys; print(sys.version_info[:2])'
        python -c 'import lablink_client as m; print(m.__file__)'
        id -un
        cat /home/client/start.sh
    """).stdout.split("\n")
    for tool in ("python", "subscribe", "check_gpu", "update_inuse_status", "pytest", "ruff", "coverage"):
        assert f"/home/client/.venv/bin/{tool}" in out, (tool, out)
    assert "(3, 11)" in out
    assert "/home/client/src/lablink_client/__init__.py" in out, "dev installs the checkout, editable"
    assert "client" in out
    assert ". /home/client/.venv/bin/activate" in out and 'exec "$@"' in out
    tests = run(engine, "client:dev", "cd /home/client && python -m pytest -q -p no:cacheprovider tests 2>&1",
                check=False)
    assert tests.returncode == 0 and " passed" in tests.stdout, tests.stdout


def test_the_base_is_the_cuda_standin_and_says_so(lab, engine):
    cfg = json.loads(engine.docker("image", "inspect", "client:prod").stdout)[0]["Config"]
    assert "CUDA" in cfg["Labels"]["dbx.standin.note"] and "stand" in cfg["Labels"]["dbx.standin.note"]
    assert "CUDA_VERSION=12.8.1" in cfg["Env"]
    gen = subprocess.run([str(dbx_path()), "gen", "client", "-o", str(lab.side / "gen")], cwd=lab.root,
                         capture_output=True, text=True)
    assert gen.returncode == 0, gen.stderr
    for name in ("Dockerfile", "Dockerfile.dev", "Dockerfile.source"):
        assert f"FROM {CUDA} AS base" in (lab.side / "gen" / name).read_text(), name
    assert "docker run --gpus all" in (lab.side / "gen" / "Dockerfile").read_text()


def test_check_gpu_reports_honestly_that_no_gpu_is_usable(lab, engine):
    r = engine.docker("run", "--rm", "--pull", "never", "client:prod", "check_gpu", check=False)
    assert r.returncode == 1, r
    assert NO_GPU in r.stderr and r.stdout == "", r
    j = engine.docker("run", "--rm", "--pull", "never", "client:prod", "check_gpu", "--json", check=False)
    assert j.returncode == 1
    report = json.loads(j.stdout)
    assert report["usable"] is False and report["devices"] == [] and "libnvidia-ml.so.1" in report["error"]


def test_prod_image_holds_the_venv_and_no_source_tools_or_tests(lab, engine):
    out = run(engine, "client:prod", """
        ls -A /home/client | grep -v '^\\.bash\\|^\\.profile'
        for t in uv pytest ruff; do command -v $t || true; done
        find / -xdev -name 'test_*.py' -path '*client*' 2>/dev/null
        python -c 'import importlib.metadata as m; print(m.version("lablink-client"))'
        id -u
    """).stdout.split()
    assert out[:2] == [".venv", "start.sh"], out
    assert not any(x.endswith(("/uv", "/pytest", "/ruff")) for x in out), out
    assert not any("test_" in x for x in out), out
    assert VERSION in out and out[-1] != "0", out


def release(lab, *args, env=None):
    return lab.build("client/release", *args, env=env, timeout=900)


def test_release_installs_exactly_the_pinned_version_from_the_index(lab, engine, index):
    r = release(lab, "--build-arg", f"PACKAGE_VERSION={VERSION}", "--build-arg", f"PACKAGE_INDEX={index.url}")
    assert r.done["status"] == "ok", r
    assert {"client/release/install", "client/release"} <= r.built, r
    assert f"/simple/lablink-client/lablink_client-{VERSION}-py3-none-any.whl" in index.asked, index.asked
    ours = hashlib.sha256(lab.path("client/src/lablink_client/check_gpu.py").read_bytes()).hexdigest()
    out = run(engine, "client:release", """
        python -c 'import importlib.metadata as m; print(m.version("lablink-client"))'
        python -c 'import lablink_client.check_gpu as m; print(m.__file__)'
        sha256sum /home/client/.venv/lib/python3.11/site-packages/lablink_client/check_gpu.py
        ls /home/client/.venv/lib/python3.11/site-packages/lablink_client-*.dist-info
        ls -A /home/client | grep -v '^\\.bash\\|^\\.profile'
        for t in uv pytest ruff coverage; do command -v $t || echo "no $t"; done
        find / -xdev \\( -name pyproject.toml -o -name uv.lock -o -name 'test_*.py' \\) -path '*client*' 2>/dev/null
        for t in subscribe check_gpu update_inuse_status; do command -v $t; done
    """).stdout.split()
    assert out[0] == VERSION, out
    assert out[1] == "/home/client/.venv/lib/python3.11/site-packages/lablink_client/check_gpu.py", out
    assert out[2] == ours, "the release holds the wheel built from this checkout"
    assert "direct_url.json" not in out, "installed from the index, not from a path"
    assert [x for x in out if x in (".venv", "start.sh", "src", "tests", "pyproject.toml")] == [".venv", "start.sh"]
    for t in ("uv", "pytest", "ruff", "coverage"):
        assert out.count(t) == 1 and out[out.index(t) - 1] == "no", (t, out)
    assert not any(x.endswith(("pyproject.toml", "uv.lock")) or "/test_" in x for x in out), out
    for s in ("subscribe", "check_gpu", "update_inuse_status"):
        assert f"/home/client/.venv/bin/{s}" in out
    assert run(engine, "client:release", "check_gpu", check=False).returncode == 1
    labels = json.loads(engine.docker("image", "inspect", "client:release").stdout)[0]["Config"]["Labels"]
    assert labels["dbx.variant"] == "release"
    again = release(lab, "--build-arg", f"PACKAGE_VERSION={VERSION}", "--build-arg", f"PACKAGE_INDEX={index.url}")
    assert again.cached >= {"client/release/install", "client/release"} and not again.built, again


def test_release_without_package_version_is_a_usage_error(lab):
    r = lab.run("client/release")
    assert r.code == 2, r
    assert "client/release/install needs the build argument PACKAGE_VERSION" in r.err
    assert "--build-arg PACKAGE_VERSION=VALUE" in r.err
    r = lab.run("client/release", "--build-arg", "PACKAGE_VERSON=1")
    assert r.code == 2 and "no target declares that build argument" in r.err and "PACKAGE_VERSION" in r.err, r


def test_release_of_a_version_the_index_lacks_fails_clearly(lab, index):
    r = release(lab, "--build-arg", "PACKAGE_VERSION=9.9.9", "--build-arg", f"PACKAGE_INDEX={index.url}")
    assert r.code == 1, r
    fail = [e for e in r.events if e["event"] == "finish" and e["status"] == "failed"]
    assert [e["target"] for e in fail] == ["client/release/install"], r
    assert "no version of lablink-client==9.9.9" in fail[0]["error"], fail


def test_dev_asks_for_gpus_and_starts_without_them_on_an_engine_without(lab):
    run_ = lab.spawn("dev", "client")
    try:
        warn = run_.wait_event(lambda e: e["event"] == "dev" and "GPUs" in e.get("message", ""), timeout=600)
        assert "running it without them" in warn["message"], warn
        run_.wait_event(lambda e: e["event"] == "log" and "subscribe" in e.get("line", ""), timeout=60)
    finally:
        run_.proc.send_signal(signal.SIGINT)
        done = run_.finish(timeout=60)
    assert done.code == 130, done


def test_dev_waits_for_the_health_command_after_each_reload(lab):
    """The client has no port: its health is a command run in the container."""
    cfg = json.loads(lab.engine.docker("image", "inspect", "client:dev").stdout)[0]["Config"]
    assert cfg["Healthcheck"]["Test"] == ["CMD", "python", "-c", "import lablink_client.subscribe"]
    run_ = lab.spawn("dev", "client", "--watch", "--gpus=none")
    rel = "client/src/lablink_client/subscribe.py"
    good = lab.read(rel)
    try:
        run_.wait_event(lambda e: e["event"] == "ready", timeout=600)
        lab.write(rel, good + "\n# edited\n", dedent=False)
        ev = run_.wait_event(lambda e: e["event"] == "reload", timeout=60)
        assert "error" not in ev and ev["health_ms"] > 0, ev  # the command ran in the container
        lab.write(rel, good + "\nthis is not python\n", dedent=False)
        bad = run_.wait_event(lambda e: e["event"] == "reload", timeout=120)
        assert "error" in bad, bad
        lab.write(rel, good, dedent=False)
        ev = run_.wait_event(lambda e: e["event"] == "reload" and "error" not in e, timeout=120)
    finally:
        lab.write(rel, good, dedent=False)
        run_.proc.send_signal(signal.SIGINT)
        done = run_.finish(timeout=60)
    assert done.code == 130, done


def test_dev_with_gpus_all_insists_and_fails_clearly(lab):
    r = lab.run("dev", "client", "--gpus=all", timeout=600)
    assert r.code == 1, r
    assert "cannot give this container the GPUs --gpus=all asks for" in r.err + r.out, r
    assert "nvidia-container-toolkit" in r.err + r.out


def test_committed_dockerfiles_match_dbx_gen(tmp_path):
    """Each LabLink package keeps the seed's Dockerfile (release) and
    Dockerfile.dev, plus Dockerfile.source: exactly what `dbx gen` writes."""
    for svc in ("allocator", "client"):
        out = tmp_path / svc
        r = subprocess.run([str(dbx_path()), "-C", str(REPO / "examples/lablink"), "gen", svc, "-o", str(out)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        for name in ("Dockerfile", "Dockerfile.dev", "Dockerfile.source"):
            assert (out / name).read_text() == (REPO / "examples/lablink" / svc / name).read_text(), (svc, name)


def test_push_needs_a_registry_and_an_image_target(lab):
    r = lab.run("push", "client/prod")
    assert r.code == 2 and "--to needs a registry" in r.err, r
    r = lab.run("push", "client/lock", "--to", "127.0.0.1:5000")
    assert r.code == 2 and "not an image" in r.err, r
    r = lab.run("push", "--to", "127.0.0.1:5000")
    assert r.code == 2 and "push takes one image target" in r.err, r
    r = lab.run("push", "client/prod", "--to", "https://127.0.0.1:5000")
    assert r.code == 2 and "without a scheme" in r.err, r


def test_dev_sessions_leave_no_container(lab):
    out = lab.engine.docker("ps", "-aq", "--filter", "label=dbx.dev=1",
                            "--filter", f"label=dbx.project={lab.root.name}").stdout.split()
    assert out == []
