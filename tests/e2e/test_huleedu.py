"""HuleEdu (examples/huleedu): a PDM monorepo of two Quart services sharing
two libraries, built by dbx and checked inside the running containers."""

import json
import time

import pytest

from engine import free_port, wait_http
from test_lablink import built_example, engine  # noqa: F401  (fixture)

SERVICES = {"identity-service": (7005, 9097), "content-service": (7006, 9098)}


@pytest.fixture(scope="module")
def hule(tmp_path_factory, engine):  # noqa: F811
    return built_example(tmp_path_factory, engine, "huleedu", "prod", timeout=1800)


def test_services_and_lock_checks_run_concurrently(hule):
    """The two services' chains and both lock checks overlap: some target starts
    while another, not its dependency, is still running (from the event order)."""
    running, overlapped = set(), []
    for e in hule.first.events:
        if e["event"] == "start":
            if running:
                overlapped.append((e["target"], set(running)))
            running.add(e["target"])
        elif e["event"] == "finish":
            running.discard(e["target"])
    pairs = {(a.split("/")[0], b.split("/")[0]) for a, others in overlapped for b in others}
    assert ("content-service", "identity-service") in pairs or ("identity-service", "content-service") in pairs, overlapped
    assert any(t.endswith("/lock") or any(o.endswith("/lock") for o in others) for t, others in overlapped), overlapped


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_service_container(hule, engine, svc):  # noqa: F811
    http, prom = free_port(), free_port()
    cid = engine.run_detached(f"{svc}:prod", env={"SERVICE_HOST": "127.0.0.1", "SERVICE_HTTP_PORT": str(http),
                                                  "SERVICE_PROMETHEUS_PORT": str(prom)})
    try:
        health = json.loads(wait_http(f"http://127.0.0.1:{http}/health", timeout=60))
        assert health["status"] == "ok" and health["service"] == svc.replace("-", "_"), health
        metrics = wait_http(f"http://127.0.0.1:{prom}/metrics")
        assert "http_requests_total" in metrics and 'endpoint="/health"' in metrics, metrics[:500]
        ex = lambda s, check=True: engine.exec(cid, s, check=check)
        assert ex("id -un").stdout.strip() == "appuser"
        for tool in ("pytest", "ruff"):
            assert ex(f"python -c 'import {tool}'", check=False).returncode != 0, f"{tool} in prod"
        assert ex("python -c 'import common_core, huleedu_service_libs; print(1)'").stdout.strip() == "1"
        assert ex("command -v pdm", check=False).returncode != 0, "pdm in prod"
        cfg = json.loads(engine.docker("image", "inspect", f"{svc}:prod").stdout)[0]["Config"]
        port, metrics_port = SERVICES[svc]
        assert {f"{port}/tcp", f"{metrics_port}/tcp"} <= set(cfg["ExposedPorts"]), cfg["ExposedPorts"]
        assert f"SERVICE_PROMETHEUS_PORT={metrics_port}" in cfg["Env"], cfg["Env"]
        assert "/health" in " ".join(cfg["Healthcheck"]["Test"])
        t0 = time.monotonic()
        engine.docker("stop", "-t", "10", cid)
        state = json.loads(engine.docker("inspect", cid).stdout)[0]["State"]
        assert state["ExitCode"] == 0, state
        assert time.monotonic() - t0 < 8, "SIGTERM was not handled: docker stop waited for its timeout"
    finally:
        engine.remove(cid)


def test_lib_edit_rebuilds_both_source_layers_and_no_deps_layer(hule):
    path = "libs/common_core/src/common_core/__init__.py"
    hule.write(path, hule.read(path) + "\n# edited by a test\n", dedent=False)
    r = hule.build("prod")
    assert r.done["status"] == "ok", r
    for svc in SERVICES:
        assert f"{svc}/prod/source" in r.built and f"{svc}/prod" in r.built, r
        assert f"{svc}/prod/deps" in r.cached and f"{svc}/base" in r.cached, r


def test_stale_pdm_lock_is_caught(hule):
    path = "services/content_service/pyproject.toml"
    text = hule.read(path)
    hule.write(path, text.replace('"pydantic>=2.7",', '"pydantic>=2.7",\n    "six>=1.16",'), dedent=False)
    try:
        r = hule.build("content-service/lock")
        assert r.status["content-service/lock"] == "failed", r
    finally:
        hule.write(path, text, dedent=False)
