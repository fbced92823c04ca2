"""`dbx dev --watch` on the real engine with the LabLink allocator (Flask):
edits reach the running container without a rebuild, deps edits replace the
container, a broken lock keeps the old one serving, bursts give one reload,
the polling fallback works, and Ctrl-C leaves nothing behind."""

import json
import shutil
import signal
import socket
import threading
import time
import urllib.request

import pytest

from dbxtest import REPO
from engine import pump
from test_images_bad import proj  # noqa: F401  (fixture)
from test_lablink import Lab, engine  # noqa: F401  (engine is a fixture)

APP = "allocator/src/lablink_allocator/app.py"
PKG = "allocator/src/lablink_allocator"


def get(port, path="/health"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return json.loads(r.read().decode())


def port_free(port):
    """Whether a server could listen on port (connections in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def dev_containers(engine, lab):
    out = engine.docker("ps", "-aq", "--no-trunc", "--filter", "label=dbx.dev=1",
                        "--filter", f"label=dbx.project={lab.root.name}").stdout
    return out.split()


class Session:
    """A running `dbx dev --watch` and what it printed."""

    def __init__(self, lab, *args, env=None):
        self.lab = lab
        self.run = lab.spawn("dev", "--watch", *args, env=env)
        self.ready = self.run.wait_event(lambda e: e["event"] == "ready", timeout=1500)
        self.port = self.ready.get("port")

    def reload(self, timeout=30):
        return self.run.wait_event(lambda e: e["event"] == "reload", timeout=timeout)

    def message(self, text, timeout=30):
        return self.run.wait_event(lambda e: e["event"] == "dev" and text in e["message"], timeout=timeout)

    def no_reload_for(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                line = self.run.lines.get(timeout=max(0.01, end - time.monotonic()))
            except Exception:
                continue
            if line and line.strip():
                e = json.loads(line)
                self.run.seen.append(e)
                assert e["event"] != "reload", f"an extra reload: {e}"

    def stop(self):
        self.run.proc.send_signal(signal.SIGINT)
        return self.run.finish(timeout=60)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, engine):  # noqa: F811
    if not port_free(5000):
        pytest.fail("127.0.0.1:5000 is taken; the allocator example serves there")
    base = tmp_path_factory.mktemp("devlab")
    return Lab(base / "lablink", base / "side", engine)


@pytest.fixture(scope="module")
def session(lab):
    s = Session(lab, "allocator")
    yield s
    if s.run.proc.poll() is None:
        s.run.kill()
    for cid in dev_containers(lab.engine, lab):
        lab.engine.remove(cid)


def remove_dev_containers(lab):
    for c in dev_containers(lab.engine, lab):
        lab.engine.remove(c)


def inside(lab, cid, script):
    return lab.engine.exec(cid, script).stdout


def test_dev_starts_the_dev_image_with_labels_and_serves(session, lab):
    assert session.port == 5000
    assert get(5000)["status"] == "ok"
    cids = dev_containers(lab.engine, lab)
    assert cids == [session.ready["container_id"]]
    labels = json.loads(lab.engine.docker("inspect", "--format", "{{json .Config.Labels}}", cids[0]).stdout)
    assert labels["dbx.service"] == "allocator" and labels["dbx.dev"] == "1"
    # dbx-init is PID 1, the app runs in the venv below the warm parent
    assert inside(lab, cids[0], "cat /proc/1/cmdline | tr '\\0' ' '").startswith("/.dbx/dbx-init --stay")


def kill_events(lab, cid, since):
    """The signals the engine was asked to send to cid since the unix time since."""
    out = lab.engine.docker("events", "--since", str(since), "--until", str(int(time.time()) + 1),
                            "--filter", f"container={cid}", "--filter", "event=kill",
                            "--format", "{{json .Actor.Attributes}}").stdout
    return [json.loads(line).get("signal") for line in out.splitlines() if line.strip()]


def test_a_handler_edit_is_served_without_a_build_or_a_new_container(session, lab):
    cid = dev_containers(lab.engine, lab)[0]
    since = int(time.time()) - 1
    calls = len(lab.docker_calls())
    lab.edit(APP, 'return jsonify(status="ok",', 'return jsonify(status="ok", edited=1,')
    ev = session.reload()
    assert "error" not in ev, ev
    assert ev["reason"] == "app.py changed" and "synced 1 file" in ev["action"], ev
    assert get(5000).get("edited") == 1
    assert dev_containers(lab.engine, lab) == [cid]
    assert len(lab.docker_calls()) == calls, "no docker CLI process on the sync path"
    assert ev["sync_ms"] + ev["restart_ms"] + ev["health_ms"] <= ev["ms"] + 1
    # on this local engine dbx signals dbx-init itself: the engine saw no kill call
    assert kill_events(lab, cid, since) == [], "the restart went through the kill API"


def test_restarts_are_warm_after_the_first_run(session, lab):
    # the zygote has learned the app's imports: the next restart forks from a warm parent
    time.sleep(6)
    lab.edit(APP, "edited=1,", "edited=2,")
    session.reload()
    assert get(5000).get("edited") == 2
    warm = [e for e in session.run.seen if e["event"] == "log" and "dbx-init: started" in e["line"]]
    assert "warm" in warm[-1]["line"], warm[-1]


def test_the_list_of_synced_files_names_each_once(session, lab):
    # app.py was saved twice above; the list an adoption reads names it once
    lists = list((lab.root / ".dbx/dev").glob("*/sync-*/.dbx-synced"))
    assert lists, "no synced list under .dbx/dev"
    for path in lists:
        names = path.read_text().splitlines()
        assert "src/lablink_allocator/app.py" in names, names
        assert len(names) == len(set(names)), names


def test_new_folder_is_synced_and_deleted_files_disappear(session, lab):
    cid = dev_containers(lab.engine, lab)[0]
    lab.write(f"{PKG}/extra/data/notes.txt", "hello\n")
    lab.write(f"{PKG}/extra/__init__.py", "X = 1\n")
    session.reload()
    where = "/app/src/lablink_allocator/extra"
    assert inside(lab, cid, f"cat {where}/data/notes.txt") == "hello\n"
    assert inside(lab, cid, f"stat -c %u {where}/data/notes.txt") == "1000\n", "owned by the image's user"
    (lab.root / f"{PKG}/extra/data/notes.txt").unlink()
    ev = session.reload()
    assert "deleted 1 file" in ev["action"], ev
    assert lab.engine.exec(cid, f"test -e {where}/data/notes.txt", check=False).returncode != 0
    assert inside(lab, cid, f"cat {where}/__init__.py") == "X = 1\n"


def test_a_thousand_files_at_once_give_one_reload(session, lab):
    cid = dev_containers(lab.engine, lab)[0]
    bulk = lab.root / PKG / "bulk"
    bulk.mkdir()
    for i in range(1000):
        (bulk / f"f{i}.py").write_text(f"N = {i}\n")
    ev = session.reload(timeout=60)
    assert "synced 1000 files" in ev["action"], ev
    session.no_reload_for(1.5)
    assert inside(lab, cid, "ls /app/src/lablink_allocator/bulk | wc -l").strip() == "1000"


def test_an_unchanged_save_does_not_reload(session, lab):
    p = lab.root / APP
    p.write_text(p.read_text())
    session.no_reload_for(1.0)


def test_a_broken_lock_keeps_the_old_container_serving(session, lab):
    cid = dev_containers(lab.engine, lab)[0]
    good = lab.read("allocator/uv.lock")
    lab.write("allocator/uv.lock", good.replace("[[package]]", "[[package]\n", 1), dedent=False)
    session.message("the running container keeps serving", timeout=300)
    assert dev_containers(lab.engine, lab) == [cid]
    assert get(5000)["status"] == "ok"
    lab.write("allocator/uv.lock", good, dedent=False)
    # the good lock again: the image now also holds the files synced so far, so it is new
    ev = session.run.wait_event(lambda e: e["event"] == "reload" and "rebuilt" in e["action"], timeout=300)
    assert "error" not in ev, ev


def test_a_source_edit_saved_with_a_broken_lock_still_reaches_the_container(session, lab):
    """One batch: a lock edit whose rebuild fails, and a handler edit. The old
    container keeps serving, so the handler edit must be synced into it."""
    cid = dev_containers(lab.engine, lab)[0]
    before = get(5000).get("edited")
    good = lab.read("allocator/uv.lock")
    lab.write("allocator/uv.lock", good.replace("[[package]]", "[[package]\n", 1), dedent=False)
    lab.edit(APP, f"edited={before},", f"edited={before}0,")
    ev = session.run.wait_event(lambda e: e["event"] == "reload" and "synced" in e.get("action", ""), timeout=300)
    assert "error" not in ev, ev
    assert get(5000).get("edited") == int(f"{before}0")
    assert dev_containers(lab.engine, lab) == [cid], "the same container"
    assert any(e["event"] == "dev" and "keeps serving" in e["message"] for e in session.run.seen)
    lab.write("allocator/uv.lock", good, dedent=False)  # the image now holds the edit: a new one
    ev = session.run.wait_event(lambda e: e["event"] == "reload" and "rebuilt" in e["action"], timeout=300)
    assert "error" not in ev, ev
    assert get(5000).get("edited") == int(f"{before}0")
    lab.edit(APP, f"edited={before}0,", f"edited={before},")
    ev = session.reload()
    assert "error" not in ev and get(5000).get("edited") == before, ev


def test_a_lock_edit_replaces_the_container_with_the_new_package(session, lab):
    old = dev_containers(lab.engine, lab)[0]
    # lock the new dependency in a scratch copy, then save both files at once, as `uv add` does
    scratch = lab.side / "scratch"
    shutil.copytree(lab.root / "allocator", scratch, ignore=shutil.ignore_patterns("src", "tests"))
    py = (scratch / "pyproject.toml").read_text()
    assert "dependencies = [" in py
    (scratch / "pyproject.toml").write_text(py.replace("dependencies = [", 'dependencies = [\n    "six==1.16.0",', 1))
    r = lab.engine.docker("run", "--rm", "--pull", "never", "--network", "host", "-v", f"{scratch}:/w", "-w", "/w",
                          "ghcr.io/astral-sh/uv:python3.11-bookworm-slim", "uv", "lock", check=False, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    lab.write("allocator/pyproject.toml", (scratch / "pyproject.toml").read_text(), dedent=False)
    lab.write("allocator/uv.lock", (scratch / "uv.lock").read_text(), dedent=False)
    ev = session.run.wait_event(lambda e: e["event"] == "reload" and "rebuilt" in e["action"], timeout=900)
    assert "error" not in ev, ev
    new = dev_containers(lab.engine, lab)
    assert len(new) == 1 and new[0] != old
    assert inside(lab, new[0], "/app/.venv/bin/python -c 'import six; print(six.__version__)'").strip() == "1.16.0"
    assert get(5000).get("edited") == 2, "the synced edits are in the new container too"


def test_ctrl_c_removes_everything(session, lab):
    r = session.stop()
    assert r.code == 130, r
    assert dev_containers(lab.engine, lab) == []
    assert not (lab.root / ".dbx" / "dev").exists()
    seeds = lab.engine.docker("ps", "-aq", "--filter", "label=dbx.dev-seed",
                              "--filter", f"label=dbx.project={lab.root.name}").stdout.split()
    assert seeds == []
    assert port_free(5000)


def test_watch_limit_falls_back_to_polling(lab):
    s = Session(lab, "allocator", env={"DBX_WATCH_LIMIT": "1"})
    try:
        said = [e["message"] for e in s.run.seen if e["event"] == "dev"]
        assert any("watching by polling every" in m for m in said), said
        lab.edit(APP, "edited=2,", "edited=3,")
        ev = s.reload(timeout=30)
        assert "error" not in ev, ev
        assert get(5000).get("edited") == 3
    finally:
        r = s.stop()
    assert r.code == 130


def test_archive_mode_puts_files_through_the_api(lab):
    s = Session(lab, "allocator", "--sync=archive")
    try:
        assert "engine API" in s.ready["sync"]
        cid = s.ready["container_id"]
        lab.edit(APP, "edited=3,", "edited=4,")
        ev = s.reload()
        assert "error" not in ev, ev
        assert get(5000).get("edited") == 4
        lab.write(f"{PKG}/extra/more.txt", "x\n")
        s.reload()
        assert inside(lab, cid, "cat /app/src/lablink_allocator/extra/more.txt") == "x\n"
        assert inside(lab, cid, "stat -c %u /app/src/lablink_allocator/extra/more.txt") == "1000\n"
        (lab.root / f"{PKG}/extra/more.txt").unlink()
        ev = s.reload()
        assert "deleted 1 file" in ev["action"], ev
        assert lab.engine.exec(cid, "test -e /app/src/lablink_allocator/extra/more.txt", check=False).returncode != 0
    finally:
        r = s.stop()
    assert r.code == 130
    assert dev_containers(lab.engine, lab) == []


def test_a_kept_container_is_adopted_and_edits_made_meanwhile_are_synced(lab):
    s = Session(lab, "allocator", "--keep")
    cid = s.ready["container_id"]
    r = s.stop()
    assert r.code == 130, r
    try:
        assert dev_containers(lab.engine, lab) == [cid], "--keep leaves it running"
        # edited while no dbx dev runs
        lab.edit(APP, "edited=4,", "edited=5,")
        s = Session(lab, "allocator")
        if s.ready["container_id"] != cid:
            s.stop()
        assert s.ready["container_id"] == cid, "the running container is taken over, not replaced"
        assert get(5000).get("edited") == 5, "what differed by content was synced and the app restarted"
        r = s.stop()
        assert r.code == 130
        assert dev_containers(lab.engine, lab) == []
    finally:
        remove_dev_containers(lab)


@pytest.mark.parametrize("sync", ["--sync=auto", "--sync=archive"])
def test_a_file_the_image_brought_and_the_host_lost_meanwhile_is_deleted_on_adoption(lab, sync):
    lab.write(f"{PKG}/extra/seeded.txt", "s\n")
    s = Session(lab, "allocator", sync, "--keep")  # a dev image built with the file
    cid = s.ready["container_id"]
    in_container = "/app/src/lablink_allocator/extra/seeded.txt"
    assert inside(lab, cid, f"cat {in_container}") == "s\n"
    assert s.stop().code == 130
    try:
        (lab.root / f"{PKG}/extra/seeded.txt").unlink()  # while no dbx dev runs
        s = Session(lab, "allocator", sync)
        try:
            assert s.ready["container_id"] == cid, "the kept container is adopted"
            left = lab.engine.exec(cid, f"test -e {in_container} && echo present || echo gone").stdout.strip()
            assert left == "gone", "a file of the image that the host no longer has is deleted"
        finally:
            r = s.stop()
        assert r.code == 130
    finally:
        remove_dev_containers(lab)


def test_a_container_removed_from_outside_is_noticed_and_started_again(lab):
    s = Session(lab, "allocator")
    try:
        first = s.ready["container_id"]
        lab.engine.remove(first)
        s.message("stopped from outside dbx", timeout=30)
        again = s.run.wait_event(lambda e: e["event"] == "ready", timeout=120)
        assert again["container_id"] != first
        assert get(5000)["status"] == "ok"
    finally:
        r = s.stop()
    assert r.code == 130
    assert dev_containers(lab.engine, lab) == []


class TcpProxy:
    """127.0.0.1:PORT forwarding to the engine's unix socket: an engine that
    looks remote (DOCKER_HOST=tcp://...), so dbx dev cannot bind-mount files."""

    def __init__(self, target):
        self.target = target
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(64)
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            u = socket.socket(socket.AF_UNIX)
            u.connect(self.target)
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    def close(self):
        self.srv.close()


def test_a_tcp_engine_gets_files_through_the_archive_api(lab):
    host = lab.engine.env["DOCKER_HOST"]
    assert host.startswith("unix://"), host
    proxy = TcpProxy(host[len("unix://"):])
    s = Session(lab, "allocator", env={"DOCKER_HOST": f"tcp://127.0.0.1:{proxy.port}"})
    try:
        assert s.ready["sync"] == "files copied through the engine API", s.ready
        cid = s.ready["container_id"]
        since = int(time.time()) - 1
        lab.edit(APP, "edited=5,", "edited=6,")
        ev = s.reload()
        assert "error" not in ev, ev
        assert get(5000).get("edited") == 6
        assert dev_containers(lab.engine, lab) == [cid]
        # an engine reached over tcp may be elsewhere: the restart goes through its API
        assert kill_events(lab, cid, since) == ["1"], "SIGHUP through POST /containers/ID/kill"
    finally:
        r = s.stop()
        proxy.close()
    assert r.code == 130
    assert dev_containers(lab.engine, lab) == []


def test_a_kept_container_on_a_tcp_engine_is_adopted_by_content(lab):
    """Over the archive API too: what the container holds is compared with the
    host by digest (sha256sum run in it), what differs is copied, and a file
    dbx had copied in that the host no longer has is deleted."""
    host = lab.engine.env["DOCKER_HOST"]
    proxy = TcpProxy(host[len("unix://"):])
    env = {"DOCKER_HOST": f"tcp://127.0.0.1:{proxy.port}"}
    extra = f"{PKG}/adopted_extra.py"
    in_container = "/app/src/lablink_allocator/adopted_extra.py"  # /app holds the allocator folder
    try:
        s = Session(lab, "allocator", "--keep", env=env)
        cid = s.ready["container_id"]
        lab.write(extra, "X = 1\n", dedent=False)
        ev = s.reload()
        assert "error" not in ev, ev
        assert inside(lab, cid, f"cat {in_container}") == "X = 1\n"
        r = s.stop()
        assert r.code == 130, r
        assert dev_containers(lab.engine, lab) == [cid], "--keep leaves it running"
        # while no dbx dev runs: one edit, one deletion
        lab.edit(APP, "edited=6,", "edited=7,")
        lab.path(extra).unlink()
        s = Session(lab, "allocator", env=env)
        try:
            assert s.ready["container_id"] == cid, "the running container is taken over, not replaced"
            assert any(e["event"] == "dev" and "adopting container" in e["message"] for e in s.run.seen)
            assert get(5000).get("edited") == 7, "what differed by content was copied and the app restarted"
            gone = lab.engine.exec(cid, f"test -e {in_container} && echo present || echo gone").stdout.strip()
            assert gone == "gone", "a file dbx had copied in and the host deleted is deleted"
            # the image's own files the host still has, unchanged, were not copied again
            adopted = [e for e in s.run.seen if e["event"] == "reload"]
            assert adopted and "synced 1 file" in adopted[-1]["action"] and "deleted 1" in adopted[-1]["action"], adopted
        finally:
            r = s.stop()
        assert r.code == 130
        assert dev_containers(lab.engine, lab) == []
    finally:
        proxy.close()
        remove_dev_containers(lab)


def test_a_recipe_its_dockerignore_leaves_out_still_reloads(proj, engine):  # noqa: F811
    """build.lua inside the build context, listed in its .dockerignore (it has
    no business in the image): saving it still reloads the recipe."""
    if not port_free(5000):
        pytest.fail("127.0.0.1:5000 is taken; the allocator example serves there")
    shutil.copytree(REPO / "examples/lablink/allocator", proj.path("app"),
                    ignore=shutil.ignore_patterns("Dockerfile*", "start.sh", ".dbx"))
    assert proj.run("init", "app").code == 0
    with open(proj.path("app/.dockerignore"), "a") as f:
        f.write("build.lua\n")
    run = proj.spawn("-C", "app", "dev", "--watch")
    try:
        ready = run.wait_event(lambda e: e["event"] == "ready", timeout=900)
        recipe = proj.read("app/build.lua")
        assert 'health = "/health"' in recipe, recipe
        proj.write("app/build.lua", recipe.replace('health = "/health"',
                                                   'health = "/health", env = { RECIPE_MARK = "2" }'),
                   dedent=False)
        ev = run.wait_event(lambda e: e["event"] == "reload", timeout=300)
        assert "error" not in ev and "build.lua" in ev["reason"], ev
        assert ev["container"] != ready["container_id"][:12], "a new container, of the new image, took over"
        assert "RECIPE_MARK=2" in engine.exec(ev["container"], "env").stdout
    finally:
        run.proc.send_signal(signal.SIGINT)
        done = run.finish(timeout=60)
    assert done.code == 130, done


def engine_events(lab, cid, since, event):
    """The actions of kind event (exec_create, extract-to-dir) on cid since the unix time since (0: ever)."""
    out = lab.engine.docker("events", "--since", str(since), "--until", str(int(time.time()) + 1),
                            "--filter", f"container={cid}", "--filter", f"event={event}",
                            "--format", "{{.Action}}").stdout
    return [line for line in out.splitlines() if line.strip()]


def test_archive_mode_keeps_one_agent_and_makes_no_api_call_per_file(lab):
    s = Session(lab, "allocator", "--sync=archive")
    try:
        cid = s.ready["container_id"]
        lab.edit(APP, 'return jsonify(status="ok",', 'return jsonify(status="ok", agent=1,')
        assert "error" not in s.reload(), s.run.seen
        lab.write(f"{PKG}/extra/agent.txt", "a\n")
        s.reload()
        (lab.root / f"{PKG}/extra/agent.txt").unlink()
        ev = s.reload()
        assert "deleted 1 file" in ev["action"], ev
        assert get(5000).get("agent") == 1
        assert lab.engine.exec(cid, "test -e /app/src/lablink_allocator/extra/agent.txt", check=False).returncode != 0
        execs = engine_events(lab, cid, 0, "exec_create")  # over the container's whole life
        assert len([e for e in execs if "--receive" in e]) == 1, f"one agent for every reload: {execs}"
        assert not [e for e in execs if "rm -rf" in e], execs
        assert engine_events(lab, cid, 0, "extract-to-dir") == ["extract-to-dir"], \
            "one archive PUT (dbx-init itself, at the start), none per reload"
    finally:
        r = s.stop()
    assert r.code == 130


def test_a_kept_container_without_the_agent_gets_files_through_the_archive_api(lab):
    """A container kept by a dbx whose dbx-init had no --receive: the agent
    ends before its first answer, and the archive API carries the files."""
    s = Session(lab, "allocator", "--sync=archive", "--keep")
    cid = s.ready["container_id"]
    assert s.stop().code == 130
    try:
        lab.engine.docker("exec", "-u", "root", cid, "sh", "-c",
                          "printf '#!/bin/sh\\necho unknown option >&2; exit 2\\n' > /.dbx/old"
                          " && chmod 755 /.dbx/old && mv /.dbx/old /.dbx/dbx-init")
        lab.edit(APP, "agent=1,", "agent=2,")
        s = Session(lab, "allocator", "--sync=archive")
        try:
            assert s.ready["container_id"] == cid, "the kept container is adopted"
            assert get(5000).get("agent") == 2
            lab.edit(APP, "agent=2,", "agent=3,")
            assert "error" not in s.reload(), s.run.seen
            assert get(5000).get("agent") == 3
            # over the container's whole life: dbx-init at the start, the adoption's sync, the edit
            assert len(engine_events(lab, cid, 0, "extract-to-dir")) == 3, "an archive PUT per sync"
            tries = [e for e in engine_events(lab, cid, 0, "exec_create") if "--receive" in e]
            assert len(tries) == 2, f"the agent: the first session's, then one try by the second: {tries}"
        finally:
            r = s.stop()
        assert r.code == 130
    finally:
        remove_dev_containers(lab)


def test_a_link_made_in_the_container_cannot_take_a_sync_out_of_the_sync_folder(lab, tmp_path):
    """The sync folder's subfolders are mounted into the container: a link the
    app makes there must not lead dbx's copies and deletions onto the host."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine\n")
    s = Session(lab, "allocator")
    try:
        cid = s.ready["container_id"]
        lab.engine.docker("exec", "-u", "root", cid, "ln", "-s", str(victim), "/app/src/lablink_allocator/evil")
        lab.write(f"{PKG}/evil/keep.txt", "overwritten\n")  # on the host: a real folder of that name
        s.message("leaves it (a symbolic link made in the container?)")
        (lab.root / f"{PKG}/evil/keep.txt").unlink()
        s.message("leaves it (a symbolic link made in the container?)")
        assert (victim / "keep.txt").read_text() == "mine\n", "the host file outside the sync folder is untouched"
    finally:
        r = s.stop()
        shutil.rmtree(lab.root / f"{PKG}/evil", ignore_errors=True)
    assert r.code == 130
