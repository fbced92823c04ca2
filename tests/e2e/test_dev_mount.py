"""`dbx dev --watch` in mount mode (HuleEdu's seed): the source is bind-mounted
read-only and hypercorn's own reloader picks up an edit of a shared library;
dbx restarts nothing and builds nothing."""

import json
import time
import urllib.request

from test_dev import Session, dev_containers, port_free
from test_lablink import Lab, engine  # noqa: F401  (engine is a fixture)

LIB = "libs/huleedu_service_libs/src/huleedu_service_libs/app_factory.py"


def health(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return json.loads(r.read().decode())
    except Exception:  # noqa: BLE001  (down while the reloader restarts it)
        return None


def test_mount_mode_lets_the_apps_reloader_serve_a_library_edit(tmp_path, engine):  # noqa: F811
    assert port_free(7005), "127.0.0.1:7005 is taken; the identity service serves there"
    lab = Lab(tmp_path / "huleedu", tmp_path / "side", engine, example="huleedu")
    s = Session(lab, "identity-service")
    try:
        assert s.ready["sync"] == "source mounted" and s.ready["restart"] == "app"
        cid = s.ready["container_id"]
        assert health(7005)["service"]
        mounts = json.loads(engine.docker("inspect", "--format", "{{json .Mounts}}", cid).stdout)
        assert {m["Destination"]: m["RW"] for m in mounts}.get("/app/libs") is False, mounts
        calls = len(lab.docker_calls())
        lab.edit(LIB, "return jsonify(status.model_dump())", 'return jsonify({**status.model_dump(), "edited": 1})')
        s.message("the app's own reloader picks it up", timeout=30)
        end = time.monotonic() + 60
        while (health(7005) or {}).get("edited") != 1:
            assert time.monotonic() < end, "hypercorn --reload did not serve the edit"
            time.sleep(0.2)
        assert dev_containers(engine, lab) == [cid]
        assert len(lab.docker_calls()) == calls, "no build, no docker process"
    finally:
        r = s.stop()
    assert r.code == 130
    assert dev_containers(engine, lab) == []
