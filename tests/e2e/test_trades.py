"""The trades example (a uv workspace of two services) on the real engine:
what the seed demands of the image, checked inside running containers; the
services doing their work against a real broker (Redis, on loopback) and
their state directory; a member's edit rebuilding only its own layers; and
`dbx push` to a real registry, pulled back into a second, empty engine."""

import base64
import json
import os

import pytest

from dbxtest import REPO
from engine import free_port
from servers import Redis, Registry, SecondEngine
from test_lablink import Lab, engine  # noqa: F401  (engine is a fixture)

SERVICES = ("trades", "candles")
LAYERS = ("base", "builder", "prod/deps", "prod/source", "prod")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, engine):  # noqa: F811
    for ref in ("python:3.12-slim-bookworm", "ghcr.io/astral-sh/uv:python3.12-bookworm-slim"):
        if not engine.has_image(ref):
            pytest.fail(f"the engine lacks {ref}: run scripts/standins.sh")
    base = tmp_path_factory.mktemp("trades")
    lab = Lab(base / "trades", base / "side", engine, example="trades")
    r = lab.build("prod", timeout=1500)
    assert r.done["status"] == "ok", r
    lab.first = r
    return lab


@pytest.fixture(scope="module")
def redis():
    r = Redis()
    yield r
    r.close()


def sh(engine, image, script, *run_args, check=True):
    return engine.docker("run", "--rm", "--pull", "never", "--network", "host", *run_args,
                         "--entrypoint", "sh", image, "-c", script, check=check)


def test_each_service_is_its_own_chain_of_layers(lab):
    for s in SERVICES:
        assert {f"{s}/{layer}" for layer in LAYERS} <= lab.first.built | lab.first.cached, lab.first


@pytest.mark.parametrize("svc", SERVICES)
def test_the_image_is_what_the_seed_asks_for(lab, engine, svc):
    image = f"{svc}:prod"
    out = sh(engine, image, f"""
        id -un; id -u
        echo "SERVICE_NAME=$SERVICE_NAME"
        echo "PATH=$PATH"
        stat -c '%U %n' /app/state /app/.venv
        command -v uv || echo "uv absent"
        env | grep '^UV_' || echo "no UV_ env"
        ls /app/services
        ls -d /app/.venv/lib/python3*/site-packages/{svc}-*.dist-info /app/.venv/lib/python3*/site-packages/redis-*.dist-info
        find /app -path /app/.venv -prune -o \\( -name tests -o -name __pycache__ -o -name '.pytest_cache' \\) -print
        find /app/.venv -name '*.pyc' -path '*redis*' | head -1
        python -c 'import importlib.metadata as m; print("version", m.version("{svc}"))'
        test -x /app/.venv/bin/{svc} && echo "console script"
    """).stdout
    lines = out.splitlines()
    assert lines[0] == "app" and lines[1] == "10001", out
    assert f"SERVICE_NAME={svc}" in lines
    assert lines[3].startswith("PATH=/app/.venv/bin:"), out
    assert "app /app/state" in lines and "root /app/.venv" in lines, out
    assert "uv absent" in lines and "no UV_ env" in lines, out
    assert f"{svc}" in lines and [x for x in lines if x in SERVICES] == [svc], "only its own member's source"
    assert any(x.endswith(".dist-info") and f"/{svc}-" in x for x in lines), "dist-info kept for metadata"
    assert not any(x.startswith("/app/services") and ("tests" in x or "__pycache__" in x) for x in lines), out
    assert any(x.endswith(".pyc") for x in lines), "bytecode compiled in the venv (UV_COMPILE_BYTECODE=1)"
    assert "version 0.1.0" in lines and "console script" in lines, out
    cfg = json.loads(engine.docker("image", "inspect", image).stdout)[0]["Config"]
    assert cfg["User"] == "app"
    assert cfg["Cmd"] == ["sh", "-c", "exec python /app/services/${SERVICE_NAME}/src/${SERVICE_NAME}/main.py"]
    # the writable state directory is the only place app may write
    w = sh(engine, image, "touch /app/state/x && echo state-ok; touch /app/services/x 2>/dev/null || echo ro-ok")
    assert "state-ok" in w.stdout and "ro-ok" in w.stdout


def test_trades_publishes_keeps_its_checkpoint_and_resumes(lab, engine, redis, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 10001, 10001)
    run = ["run", "--rm", "--pull", "never", "--network", "host", "-v", f"{state}:/app/state",
           "-e", f"BROKER_ADDRESS={redis.address}", "-e", "TRADES_COUNT=120"]
    first = engine.docker(*run, "trades:prod")
    assert "published 120 trades" in first.stdout + first.stderr, first
    assert redis.xlen("trades") == 120
    cp = json.loads((state / "checkpoint.json").read_text())
    assert cp["last_id"] == 120 and cp["count"] == 120, cp
    again = engine.docker(*run, "trades:prod")
    assert "published 0 trades" in again.stdout + again.stderr, again
    assert redis.xlen("trades") == 120, "a restart publishes nothing twice"
    cstate = tmp_path / "cstate"
    cstate.mkdir()
    os.chown(cstate, 10001, 10001)
    c = engine.docker("run", "--rm", "--pull", "never", "--network", "host", "-v", f"{cstate}:/app/state",
                      "-e", f"BROKER_ADDRESS={redis.address}", "candles:prod")
    assert redis.xlen("candles") > 0, c
    assert (cstate / "checkpoint.json").is_file()


def test_an_unreachable_broker_fails_clearly(lab, engine):
    port = free_port()
    r = engine.docker("run", "--rm", "--pull", "never", "--network", "host",
                      "-e", f"BROKER_ADDRESS=127.0.0.1:{port}", "trades:prod", check=False)
    assert r.returncode == 2, r
    assert f"trades: cannot reach the broker at 127.0.0.1:{port}" in r.stderr, r
    assert "Traceback" not in r.stderr
    # the seed's variable name is honoured too
    r = engine.docker("run", "--rm", "--pull", "never", "--network", "host",
                      "-e", "BROKER_ADDRESS=", "-e", f"KAFKA_BROKER_ADDRESS=127.0.0.1:{port}", "trades:prod",
                      check=False)
    assert r.returncode == 2 and f"127.0.0.1:{port}" in r.stderr, r


def test_editing_one_member_rebuilds_only_its_source_layer(lab):
    rel = "services/trades/src/trades/sources.py"
    lab.write(rel, lab.read(rel) + "\n# edited\n", dedent=False)
    r = lab.build("prod")
    assert r.done["status"] == "ok", r
    assert r.built == {"trades/prod/source", "trades/prod"}, r
    assert not any(t.startswith("candles/") for t in r.built), r


def test_editing_the_shared_library_rebuilds_both_source_layers_and_no_deps_layer(lab):
    rel = "libs/streamcommon/src/streamcommon/__init__.py"
    lab.write(rel, lab.read(rel) + "\n# edited\n", dedent=False)
    r = lab.build("prod")
    assert r.done["status"] == "ok", r
    assert r.built == {"trades/prod/source", "trades/prod", "candles/prod/source", "candles/prod"}, r
    assert not any(t.endswith("/deps") for t in r.built), r


def test_the_kubernetes_manifests_match_the_images(lab):
    import yaml
    folder = REPO / "examples/trades/deployments/dev"
    kust = yaml.safe_load((folder / "kustomization.yaml").read_text())
    docs = [d for f in kust["resources"] for d in yaml.safe_load_all((folder / f).read_text()) if d]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == set(SERVICES)
    for name, d in deployments.items():
        spec = d["spec"]["template"]["spec"]
        (c,) = spec["containers"]
        assert c["image"] == f"{name}:prod", c["image"]
        assert spec["securityContext"]["runAsUser"] == 10001 and spec["securityContext"]["runAsNonRoot"]
        assert any(v["mountPath"] == "/app/state" for v in c["volumeMounts"])
        env = {e["name"]: e for e in c["env"]}
        assert "BROKER_ADDRESS" in env


@pytest.fixture(scope="module")
def registry():
    r = Registry()
    yield r
    r.close()


def test_push_sends_the_tag_and_the_content_key(lab, registry):
    r = lab.build("push", "trades/prod", "--to", registry.address)
    assert r.code == 0, r
    pushes = [e for e in r.events if e["event"] == "push"]
    finish = [e for e in r.events if e["event"] == "finish" and e["target"] == "trades/prod"]
    key16 = finish[0]["key"][:16]
    assert {e["ref"] for e in pushes} == {f"{registry.address}/trades:prod", f"{registry.address}/trades:{key16}"}
    assert len({e["digest"] for e in pushes}) == 1 and pushes[0]["digest"].startswith("sha256:")
    assert registry.tags("trades") == sorted(["prod", key16])
    lab.first_push = (key16, pushes[0]["digest"])


def test_a_second_empty_engine_pulls_and_runs_what_was_pushed(lab, registry, redis):
    if not getattr(lab, "first_push", None):
        pytest.skip("the push test did not run")
    key16, digest = lab.first_push
    second = SecondEngine()
    try:
        assert second.docker("images", "-q").stdout.strip() == "", "the second engine starts empty"
        second.docker("pull", f"{registry.address}/trades:{key16}")
        info = json.loads(second.docker("image", "inspect", f"{registry.address}/trades:{key16}").stdout)[0]
        assert f"{registry.address}/trades@{digest}" in info["RepoDigests"]
        out = second.docker("run", "--rm", "--network", "host", "-e", f"BROKER_ADDRESS={redis.address}",
                            "-e", "TRADES_COUNT=5", "-e", "TRADES_TOPIC=pulled", f"{registry.address}/trades:{key16}")
        assert "published 5 trades" in out.stdout + out.stderr, out
        assert redis.xlen("pulled") == 5
    finally:
        second.close()


def test_push_to_an_unreachable_registry_fails_clearly(lab):
    port = free_port()
    r = lab.run("push", "trades/prod", "--to", f"127.0.0.1:{port}")
    assert r.code == 1, r
    assert f"127.0.0.1:{port}" in r.err and "no registry answers there" in r.err, r


def test_push_to_a_registry_that_wants_a_login(lab, tmp_path):
    """The credentials come from the docker CLI's config, as `docker login`
    writes it: an auths entry, or a credential helper."""
    reg = Registry(users={"alice": "s3cret"})
    try:
        cfg = tmp_path / "docker"
        cfg.mkdir()
        env = {"DOCKER_CONFIG": str(cfg)}
        r = lab.run("push", "trades/prod", "--to", reg.address, env=env)
        assert r.code == 1, r
        assert f"the registry wants a login: `docker login {reg.address}`" in r.err, r

        token = base64.b64encode(b"alice:wrong").decode()
        (cfg / "config.json").write_text(json.dumps({"auths": {f"http://{reg.address}": {"auth": token}}}))
        r = lab.run("push", "trades/prod", "--to", reg.address, env=env)
        assert r.code == 1, r
        assert f"the credentials for {reg.address} from auths in {cfg}/config.json were refused" in r.err, r

        token = base64.b64encode(b"alice:s3cret").decode()
        (cfg / "config.json").write_text(json.dumps({"auths": {reg.address: {"auth": token}}}))
        r = lab.build("push", "trades/prod", "--to", reg.address, env=env)
        assert r.code == 0, r
        assert "prod" in reg.tags("trades")

        # a credential helper named by credsStore, found on PATH
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        helper = bin_dir / "docker-credential-dbxtest"
        helper.write_text("#!/bin/sh\nread host\n[ \"$1\" = get ] || exit 3\n"
                          "echo \"$host\" >> \"$(dirname \"$0\")/asked\"\n"
                          "printf '{\"ServerURL\":\"%s\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}' \"$host\"\n")
        helper.chmod(0o755)
        (cfg / "config.json").write_text(json.dumps({"credsStore": "dbxtest"}))
        env["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
        r = lab.build("push", "candles/prod", "--to", reg.address, env=env, timeout=900)
        assert r.code == 0, r
        assert "prod" in reg.tags("candles")
        assert (bin_dir / "asked").read_text() == f"{reg.address}\n"
    finally:
        reg.close()


def test_committed_dockerfiles_match_dbx_gen(tmp_path):
    import subprocess
    from dbxtest import dbx_path
    r = subprocess.run([str(dbx_path()), "-C", str(REPO / "examples/trades"), "gen", "-o", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["Dockerfile", "Dockerfile.candles", "Dockerfile.candles.dev", "Dockerfile.dev"]
    for name in names:
        assert (tmp_path / name).read_text() == (REPO / "examples/trades" / name).read_text(), name
