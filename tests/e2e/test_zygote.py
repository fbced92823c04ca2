"""init/zygote.py under build/dbx-init, on the host (no engine): a small
stdlib web app, run the way dbx dev runs it with warm restarts, serves its new
code after a SIGHUP from a child forked by the same zygote, learns which
library modules to preload (and not the app's own), falls back to a fresh
interpreter when the code is broken, and leaves no process behind on SIGTERM.

Every process is found through the "started" lines and /proc, and cleaned up
by pid and process group, never by name."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from dbxtest import REPO
from engine import free_port

INIT = REPO / "build" / "dbx-init"
ZYGOTE = REPO / "init" / "zygote.py"
PY = sys.executable
STARTED = re.compile(r"^dbx-init: started (.+) \(pid (\d+), (warm, (\d+) modules preloaded|cold)\)$")

HANDLER = '''
from http.server import BaseHTTPRequestHandler

BODY = {body!r}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        data = (BODY + "\\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass
'''

SERVER = '''
import os
from http.server import HTTPServer

from zyapp.handler import Handler


def main():
    HTTPServer(("127.0.0.1", int(os.environ["ZYAPP_PORT"])), Handler).serve_forever()
'''

# what a console script generated for [project.scripts] looks like
SCRIPT = '''#!{python}
import re
import sys
from zyapp.server import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit(main())
'''


@pytest.fixture(scope="module")
def init_bin():
    if not (INIT.is_file() and os.access(INIT, os.X_OK)):
        pytest.fail(f"no dbx-init at {INIT}: run `make build/dbx-init`")
    return INIT


class App:
    """The app's files under tmp_path: src/zyapp (the package, on PYTHONPATH)
    and bin/zyapp-serve (a console script, on PATH)."""

    def __init__(self, root):
        self.root = root
        self.port = free_port()
        self.modules = root / "modules"
        self.write("src/zyapp/__init__.py", "")
        self.write("src/zyapp/__main__.py", "from zyapp.server import main\n\nmain()\n")
        self.write("src/zyapp/server.py", SERVER)
        self.say("v1")
        script = self.write("bin/zyapp-serve", SCRIPT.format(python=PY))
        script.chmod(0o755)

    def write(self, rel, text):
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p

    def say(self, body):
        """The handler answers body from now on (for the next start)."""
        self.write("src/zyapp/handler.py", HANDLER.format(body=body))

    def get(self):
        """The body the app serves now, or None."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2) as r:
                return r.read().decode().strip()
        except (urllib.error.URLError, ConnectionError, OSError):
            return None

    def wait_body(self, body, timeout=15.0):
        end = time.monotonic() + timeout
        got = None
        while time.monotonic() < end:
            got = self.get()
            if got == body:
                return
            time.sleep(0.02)
        raise AssertionError(f"the app did not serve {body!r} within {timeout} s (last: {got!r})")

    def learned(self):
        """The module names the children wrote, or [] before the first write."""
        try:
            return self.modules.read_text().split()
        except OSError:
            return []


class Supervised:
    """dbx-init [OPTIONS] -- PROGRAM... running; its stderr is collected."""

    def __init__(self, app, argv, grace_ms=None):
        env = dict(os.environ, ZYAPP_PORT=str(app.port), PYTHONPATH=str(app.root / "src"),
                   PATH=f"{app.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
        env.pop("PYTHONSAFEPATH", None)
        if grace_ms:
            env["DBX_INIT_GRACE_MS"] = str(grace_ms)
            env["DBX_RESTART"] = "term"  # a restart then sends SIGTERM and waits out the grace
        self.lines = []
        self.cond = threading.Condition()
        self.groups = set()  # process groups seen: app children and zygotes
        self.proc = subprocess.Popen([str(a) for a in argv], cwd=app.root, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            m = STARTED.match(line.rstrip("\n"))
            if m:  # note the pids while they are alive: a child's group, its parent's group
                pid = int(m.group(2))
                self.groups.add(pid)
                ppid = parent_of(pid)
                if ppid and ppid != self.proc.pid:
                    self.groups.add(ppid)
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_line(self, pattern, after=0, timeout=15.0):
        """(index, match) of the first line from index `after` matching pattern."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(after, len(self.lines)):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line like {pattern!r} within {timeout} s:\n" + "\n".join(self.lines))
                self.cond.wait(left)

    def wait_started(self, after=0, timeout=15.0):
        """(index, pid, modules preloaded or None when cold) of the next start."""
        i, m = self.wait_line(STARTED.pattern, after, timeout)
        return i, int(m.group(2)), (int(m.group(4)) if m.group(4) else None)

    def hup(self):
        os.kill(self.proc.pid, signal.SIGHUP)

    def cleanup(self):
        """Kill whatever is left, by pid and process group."""
        for pgid in [self.proc.pid] + sorted(self.groups):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
        self.proc.wait(timeout=10)


def parent_of(pid):
    """The parent pid of pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def gone(pid, timeout=5.0):
    """Whether pid (and any group it leads) is gone within timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.02)
    return False


def wait_learned(app, timeout=10.0):
    end = time.monotonic() + timeout
    while "http.server" not in app.learned():
        assert time.monotonic() < end, f"no module file at {app.modules} within {timeout} s"
        time.sleep(0.05)
    return app.learned()


def warm(init_bin, app, *program, grace_ms=None):
    """The app's PROGRAM run the way dbx dev runs it with warm restarts."""
    return Supervised(app, [init_bin, "--stay", "--hup=forward", "--", PY, ZYGOTE,
                            "--modules", app.modules, "--", *program], grace_ms)


RUNS = {"module": [PY, "-m", "zyapp"], "console script": ["zyapp-serve"]}


@pytest.mark.parametrize("how", sorted(RUNS))
def test_hup_serves_the_new_code_from_a_warm_child(init_bin, tmp_path, how):
    app = App(tmp_path)
    run = warm(init_bin, app, *RUNS[how])
    try:
        i, first, preloaded = run.wait_started()
        assert preloaded is None, run.lines  # nothing learned yet: the first start is cold
        app.wait_body("v1")
        zygote = parent_of(first)
        assert zygote and zygote != run.proc.pid
        wait_learned(app)
        for n, body in enumerate(["v2", "v3"]):
            app.say(body)
            run.hup()
            i, child, preloaded = run.wait_started(after=i + 1)
            app.wait_body(body)
            assert preloaded and preloaded > 20, run.lines[i]
            assert parent_of(child) == zygote  # forked by the same zygote: warm
            assert child != first and gone(first)
            first = child
        assert not [ln for ln in run.lines if "exited" in ln or "killed" in ln], run.lines
    finally:
        run.cleanup()


def test_the_module_file_lists_libraries_not_the_app(init_bin, tmp_path):
    app = App(tmp_path)
    run = warm(init_bin, app, "zyapp-serve")
    try:
        run.wait_started()
        app.wait_body("v1")
        names = wait_learned(app)
        assert {"http.server", "socketserver", "email.parser"} <= set(names), names
        assert not [n for n in names if n.split(".")[0] == "zyapp" or n.startswith("__")], names
        assert names == sorted(names)  # each package before its submodules
        assert not [n for n in os.listdir(tmp_path) if n.startswith("modules.")]  # no temp file left
    finally:
        run.cleanup()


def test_broken_code_falls_back_to_a_fresh_interpreter(init_bin, tmp_path):
    app = App(tmp_path)
    run = warm(init_bin, app, PY, "-m", "zyapp")
    try:
        i, child, _ = run.wait_started()
        app.wait_body("v1")
        zygote = parent_of(child)
        wait_learned(app)
        app.write("src/zyapp/handler.py", "def broken(:\n")
        run.hup()
        i, _ = run.wait_line(r"^SyntaxError", after=i + 1)
        i, _ = run.wait_line(r"^dbx-init: \S+ exited with status 1$", after=i + 1)  # the zygote says so
        # ... and dbx-init starts a fresh interpreter (a new zygote) after its backoff
        i, _ = run.wait_line(r"^dbx-init: \S+ exited with status 1; starting it again in 0\.25s$", after=i + 1)
        i, child, preloaded = run.wait_started(after=i + 1)
        assert preloaded, run.lines[i]  # the fresh zygote preloads what was learned
        assert gone(zygote)
        run.wait_line(r"starting it again in 0\.5s$", after=i + 1)  # still broken: a longer backoff
        app.say("fixed")
        run.hup()
        app.wait_body("fixed")
    finally:
        run.cleanup()


def test_term_stops_everything(init_bin, tmp_path):
    app = App(tmp_path)
    run = warm(init_bin, app, PY, "-m", "zyapp")
    try:
        _, child, _ = run.wait_started()
        app.wait_body("v1")
        zygote = parent_of(child)
        os.kill(run.proc.pid, signal.SIGTERM)
        assert run.proc.wait(timeout=10) == 128 + signal.SIGTERM  # the app's end, passed up
        assert gone(child) and gone(zygote) and gone(run.proc.pid)
        assert app.get() is None
    finally:
        run.cleanup()


def test_a_restart_kills_the_old_child_at_once(init_bin, tmp_path):
    app = App(tmp_path)
    code = ("import signal, time, zyapp.server; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "zyapp.server.main()")
    run = warm(init_bin, app, PY, "-c", code)
    try:
        i, first, _ = run.wait_started()
        app.wait_body("v1")
        app.say("v2")
        t0 = time.monotonic()
        run.hup()
        run.wait_started(after=i + 1)
        app.wait_body("v2")
        assert time.monotonic() - t0 < 2.0  # no grace period: the old code is thrown away
        assert gone(first)
    finally:
        run.cleanup()


def test_a_child_that_ignores_term_is_killed_after_the_grace(init_bin, tmp_path):
    app = App(tmp_path)
    code = ("import signal, time, zyapp.server; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "zyapp.server.main()")
    run = warm(init_bin, app, PY, "-c", code, grace_ms=300)
    try:
        i, first, _ = run.wait_started()
        app.wait_body("v1")
        zygote = parent_of(first)
        app.say("v2")
        t0 = time.monotonic()
        run.hup()
        i, second, _ = run.wait_started(after=i + 1)
        app.wait_body("v2")
        assert time.monotonic() - t0 >= 0.3  # it waited out the grace, then KILL
        assert gone(first) and parent_of(second) == zygote
    finally:
        run.cleanup()


def test_a_program_that_is_not_python_restarts_cold(init_bin, tmp_path):
    app = App(tmp_path)
    run = warm(init_bin, app, "sh", "-c", "exec sleep 100")
    try:
        run.wait_line(r"^dbx-init: sh is not a Python program; restarts are cold$")
        i, first, preloaded = run.wait_started()
        assert preloaded is None
        run.hup()
        i, second, _ = run.wait_started(after=i + 1)
        assert second != first and gone(first)
    finally:
        run.cleanup()
