"""`dbx build prod` at the repository's root builds every example at once."""

import shutil

from dbxtest import REPO
from test_lablink import Lab, engine  # noqa: F401  (fixture)


def overlaps(events):
    """(started, already running) pairs, read off the order of the events."""
    running, out = set(), []
    for e in events:
        if e["event"] == "start":
            out += [(e["target"], r) for r in running]
            running.add(e["target"])
        elif e["event"] == "finish":
            running.discard(e["target"])
    return out


def test_root_prod_builds_every_example_concurrently_then_nothing(tmp_path, engine):  # noqa: F811
    lab = Lab(tmp_path / "repo", tmp_path / "side", engine, example=None)
    shutil.copy(REPO / "build.lua", lab.root / "build.lua")
    shutil.copytree(REPO / "examples", lab.root / "examples",
                    ignore=shutil.ignore_patterns(".dbx", "out", ".venv", "__pycache__"))
    r = lab.build("prod", timeout=3600)
    assert r.done["status"] == "ok", r
    services = {"allocator", "strain-seer", "postura", "identity-service", "content-service"}
    assert {f"{s}/prod" for s in services} <= r.built | r.cached, r
    pairs = overlaps(r.events)
    svc = lambda t: t.split("/")[0]
    assert any(svc(a) != svc(b) for a, b in pairs), "no two services' targets ever ran at once"
    assert any(a.endswith("/lock") or b.endswith("/lock") for a, b in pairs), "the lock checks never overlapped"
    calls = len(lab.docker_calls())
    r2 = lab.build("prod")
    assert r2.done["status"] == "ok" and not r2.built and r2.cached == set(r.status), r2
    assert len(lab.docker_calls()) == calls, "a no-op build ran docker"
