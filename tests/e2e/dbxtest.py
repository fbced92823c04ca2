"""Helpers for dbx's end-to-end tests (the fixtures are in conftest.py).

Every test builds a throwaway project under pytest's tmp_path and runs the real
binary on it. The binary comes from the DBX environment variable (default: the
repository's ./dbx), so `make BUILD=/tmp/x /tmp/x/dbx && DBX=/tmp/x/dbx pytest`
tests a private build.

Layout of a test's tmp_path:

    tmp_path/proj/      the project (build.lua, inputs, outputs, .dbx/)
    tmp_path/side/      files the commands write that are no part of the project:
                        counters of spawned processes, pid files, markers
"""

import json
import os
import queue
import signal
import subprocess
import textwrap
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 60  # seconds; only the endless-loop case comes near a few of them


def dbx_path():
    return Path(os.environ.get("DBX") or REPO / "dbx").resolve()


class Result:
    """One finished dbx run."""

    def __init__(self, args, proc):
        self.args = args
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return (f"<dbx {' '.join(self.args)}: exit {self.code}\n"
                f"--- stdout\n{self.out}--- stderr\n{self.err}>")


class JsonResult(Result):
    """A run with --progress=json: stdout parsed into events."""

    def __init__(self, args, proc):
        super().__init__(args, proc)
        self.events = parse_events(self.out)

    def of(self, kind):
        return [e for e in self.events if e["event"] == kind]

    @property
    def status(self):
        """target -> status of its finish event (each target finishes once)."""
        out = {}
        for e in self.of("finish"):
            assert e["target"] not in out, f"two finish events for {e['target']}: {self!r}"
            out[e["target"]] = e["status"]
        return out

    def having(self, status):
        return {t for t, s in self.status.items() if s == status}

    @property
    def built(self):
        return self.having("built")

    @property
    def cached(self):
        return self.having("cached")

    @property
    def failed(self):
        return self.having("failed")

    @property
    def skipped(self):
        return self.having("skipped")

    @property
    def started(self):
        return {e["target"] for e in self.of("start")}

    @property
    def done(self):
        d = self.of("done")
        assert len(d) == 1, f"expected one done event: {self!r}"
        return d[0]

    def error_of(self, target):
        for e in self.of("finish"):
            if e["target"] == target:
                return e.get("error", "")
        raise AssertionError(f"no finish event for {target}: {self!r}")


class Running:
    """A dbx process still running: its events arrive on a queue as they are printed."""

    def __init__(self, args, argv, cwd, env):
        self.args = args
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.seen = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_event(self, pred, timeout=20.0):
        """Consume events until pred(event) holds; returns that event."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no such event within {timeout} s; saw {self.seen}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"dbx ended before the event; saw {self.seen}, "
                                     f"stderr: {self.proc.stderr.read()}")
            if not line.strip():
                continue
            e = json.loads(line)
            self.seen.append(e)
            if pred(e):
                return e

    def finish(self, timeout=30.0):
        """Wait for the exit; returns a JsonResult over every event printed."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        self._reader.join(timeout=5)
        rest = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                rest.append(line)
        out = "".join(json.dumps(e) + "\n" for e in self.seen) + "".join(rest)
        done = subprocess.CompletedProcess(self.args, code, out, self.proc.stderr.read())
        return JsonResult(self.args, done)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def parse_events(text):
    events = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            e = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"stdout line is not JSON: {line!r}") from exc
        assert isinstance(e, dict) and "event" in e, f"not an event: {line!r}"
        events.append(e)
    return events


class Project:
    """A temporary project folder and ways to run dbx in it."""

    def __init__(self, root, side, dbx):
        self.root = root
        self.side = side
        self.dbx = dbx
        root.mkdir()
        side.mkdir()

    def path(self, rel):
        return self.root / rel

    def write(self, rel, text, dedent=True):
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text) if dedent else text)
        return p

    def recipe(self, text, name="build.lua"):
        """Write build.lua (dedented) and return its path."""
        return self.write(name, text)

    def read(self, rel):
        return (self.root / rel).read_text()

    def exists(self, rel):
        return (self.root / rel).exists()

    def env(self, extra=None):
        env = dict(os.environ)
        env.pop("CI", None)
        env["NO_COLOR"] = "1"
        env["DBX_TEST_COUNTER"] = str(self.counter)
        env["DBX_TEST_SIDE"] = str(self.side)
        if extra:
            env.update(extra)
        return env

    def argv(self, args):
        return [str(self.dbx), *args]

    def run(self, *args, env=None, timeout=RUN_TIMEOUT, cwd=None):
        """Run dbx with plain progress (stdout is a pipe) and wait for it."""
        args = list(args)
        proc = subprocess.run(self.argv(args), cwd=cwd or self.root, env=self.env(env),
                              capture_output=True, text=True, timeout=timeout)
        return Result(args, proc)

    def build(self, *args, env=None, timeout=RUN_TIMEOUT):
        """Run dbx with --progress=json and parse its events."""
        args = ["--progress=json", *args]
        proc = subprocess.run(self.argv(args), cwd=self.root, env=self.env(env),
                              capture_output=True, text=True, timeout=timeout)
        return JsonResult(args, proc)

    def spawn(self, *args, env=None):
        """Start dbx with --progress=json without waiting for it."""
        return Running(["--progress=json", *args], self.argv(["--progress=json", *args]),
                       self.root, self.env(env))

    # -- counting spawned processes -------------------------------------------

    @property
    def counter(self):
        """A file outside the project; commands append one line per run."""
        return self.side / "spawned"

    def spawned(self):
        """Lines in the counter file: one per command dbx started."""
        try:
            return self.counter.read_text().splitlines()
        except FileNotFoundError:
            return []


def lua_str(s):
    """A Lua string literal holding s exactly (long brackets would eat a first newline)."""
    out = ['"']
    for ch in s:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32:
            out.append("\\%03d" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def lua_argv(*items):
    """A Lua list of string literals: {"a", "b"}."""
    return "{" + ", ".join(lua_str(x) for x in items) + "}"


def sh(script):
    """A Lua argv list running script under sh (the test's own shell text, not dbx's)."""
    return lua_argv("sh", "-c", script)


def counting_cmd(name, script):
    """Like sh(script), after appending name to the counter file outside the project."""
    return sh(f'echo {name} >> "$DBX_TEST_COUNTER"; {script}')


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return False


def wait_for(pred, timeout=10.0, step=0.02):
    """Poll pred until it holds or timeout passes; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


def kill_quietly(pids):
    """Last-resort cleanup of processes a failing test may have left behind."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
