#!/usr/bin/env python3
"""Interrupt and kill `dbx build prod` of a multi-service project at random
moments, many times, and check after each that nothing is lost or left:

  SIGINT   dbx exits 130 (or 0 when it had already finished), no process of
           its session outlives it, no container is left, the store loads, and
           the next build completes and reuses every target the interrupted run
           reported built.
  SIGKILL  the next build completes and reuses every target reported built;
           every image target it calls built or cached is in the engine under
           its key; a torn last store line is skipped (and said).

The project is a copy of examples/lablink (two services); each trial edits
both services' source first (and every other one their lock files, so the
dependency layers rebuild too), so there is work to interrupt. Prints a table
and exits 1 if any trial failed.

    tests/soak/interrupt.py [--trials N] [--seed S] [--max-delay SECONDS]

Needs the engine (scripts/with-engine.sh runs it with one) and DBX (default ./dbx).
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests/e2e"))
from engine import engine_env  # noqa: E402

DBX = os.environ.get("DBX") or str(REPO / "dbx")
EDITS = ("allocator/src/lablink_allocator/__init__.py", "client/src/lablink_client/__init__.py")
LOCKS = ("allocator/uv.lock", "client/uv.lock")  # every other trial: the deps layers too


def session_processes(sid):
    """Pids of live processes whose session is sid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[3]) == sid:  # state, ppid, pgrp, session
            out.append(int(d))
    return out


def events(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


class Trial:
    def __init__(self, root, env, engine_env_):
        self.root, self.env, self.engine_env = root, env, engine_env_

    def docker(self, *args):
        return subprocess.run(["/usr/bin/docker", *args], env=self.engine_env, capture_output=True, text=True)

    def build(self, timeout=900):
        r = subprocess.run([DBX, "--progress=json", "build", "prod"], cwd=self.root, env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        return r.returncode, events(r.stdout), r.stderr

    def edit(self, n):
        for rel in EDITS + (LOCKS if n % 2 else ()):
            p = self.root / rel
            p.write_text(p.read_text() + f"# soak edit {n}\n")

    def containers(self):
        return sorted(self.docker("ps", "-aq").stdout.split())

    def run(self, n, sig, delay):
        """One trial; a list of what went wrong (empty: passed) and a note."""
        self.edit(n)
        before = self.containers()
        proc = subprocess.Popen([DBX, "--progress=json", "build", "prod"], cwd=self.root, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        time.sleep(delay)
        finished_first = proc.poll() is not None
        if not finished_first:
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
        code = proc.returncode
        first = events(out)
        problems = []
        if sig == signal.SIGINT:
            if code not in (130, 0) or (code == 0 and not finished_first and
                                        not any(e.get("event") == "done" for e in first)):
                problems.append(f"exit {code} after SIGINT (wanted 130): {err.strip()[-300:]}")
            end = time.monotonic() + 10
            while session_processes(proc.pid) and time.monotonic() < end:
                time.sleep(0.1)
            left = session_processes(proc.pid)
            if left:
                problems.append(f"processes left after exit: {left}")
                for pid in left:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        else:  # SIGKILL leaves its children to finish alone: wait for them, by session
            end = time.monotonic() + 300
            while session_processes(proc.pid) and time.monotonic() < end:
                time.sleep(0.2)
        after = self.containers()
        if sig == signal.SIGINT and after != before:
            problems.append(f"containers left: {sorted(set(after) - set(before))}")
        built = {e["target"] for e in first if e.get("event") == "finish" and e.get("status") == "built"}
        code2, second, err2 = self.build()
        if code2 != 0:
            problems.append(f"the next build failed ({code2}): {err2.strip()[-300:]}")
        rebuilt = {e["target"] for e in second if e.get("event") == "finish" and e.get("status") == "built"}
        if built & rebuilt:
            problems.append(f"finished targets built again: {sorted(built & rebuilt)}")
        labels = self.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                             "--filter", f"label=dbx.project={self.root.name}").stdout.split()
        tags = {t.rsplit(":", 1)[1] for t in labels if ":" in t}
        for e in second:
            if e.get("event") == "finish" and e.get("status") in ("cached", "built") and "/" in e["target"] \
                    and not e["target"].endswith("/lock") and e["key"][:16] not in tags:
                problems.append(f"{e['target']} is {e['status']} but no image has its key {e['key'][:16]}")
        torn = any("damaged line" in line for line in err2.splitlines())
        note = ("finished before the signal" if finished_first else f"{len(built)} built before it")
        if torn:
            note += ", a torn store line skipped"
        return problems, note


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--max-delay", type=float, default=0,
                    help="longest wait before the signal (default: 90%% of a measured build after an edit)")
    a = ap.parse_args()
    env_ = engine_env()
    if env_ is None:
        sys.exit("no engine answers: run under scripts/with-engine.sh")
    rng = random.Random(a.seed)
    work = Path(tempfile.mkdtemp(prefix="dbx-soak-"))
    root = work / "lablink"
    shutil.copytree(REPO / "examples/lablink", root,
                    ignore=shutil.ignore_patterns(".dbx", ".venv", "__pycache__", "dist"))
    env = dict(os.environ, **env_, DBX_PULL="never", CI="true")
    engine_env_ = dict(os.environ, **env_)
    t = Trial(root, env, engine_env_)
    code, _, err = t.build(timeout=1800)
    if code != 0:
        sys.exit(f"the first build failed: {err}")
    if not a.max_delay:  # signals land anywhere in a build like the longer trials'
        t.edit(1)
        start = time.monotonic()
        code, _, err = t.build()
        if code != 0:
            sys.exit(f"the calibration build failed: {err}")
        a.max_delay = 0.9 * (time.monotonic() - start)
    print(f"seed {a.seed}; {a.trials} trials per signal; delays up to {a.max_delay:.2f} s")
    rows = []
    n = 0
    for sig in (signal.SIGINT, signal.SIGKILL):
        fails, notes = 0, []
        for i in range(a.trials):
            n += 1
            delay = rng.uniform(0.01, a.max_delay)
            problems, note = t.run(n, sig, delay)
            status = "ok" if not problems else "FAILED"
            print(f"  {sig.name} trial {i + 1:2}: delay {delay:4.2f} s, {note}: {status}")
            for p in problems:
                print(f"      {p}")
            fails += bool(problems)
            notes.append(note)
        early = sum(1 for x in notes if x.startswith("finished"))
        rows.append((sig.name, a.trials, fails, early))
    print("\n| scenario | trials | failures | finished before the signal |")
    print("|---|---|---|---|")
    for name, trials, fails, early in rows:
        print(f"| {name} during `dbx build prod` (2 services) | {trials} | {fails} | {early} |")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if any(r[2] for r in rows) else 0)


if __name__ == "__main__":
    main()
