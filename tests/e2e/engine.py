"""Helpers for the end-to-end tests that need the container engine.

The engine is the one scripts/engine.sh names (a reachable DOCKER_HOST, the
system socket, or the private dockerd it starts); `make test-e2e` starts it and
builds the stand-in base images first. Containers run with host networking and
serve on 127.0.0.1; each test removes what it started, by id.
"""

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

from dbxtest import REPO

DOCKER = os.environ.get("DBX_TEST_DOCKER", "/usr/bin/docker")


def engine_env():
    """DOCKER_HOST of the engine to use, or None."""
    r = subprocess.run([str(REPO / "scripts/engine.sh"), "env"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    env = {}
    for line in r.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            k, v = line[len("export "):].split("=", 1)
            env[k] = v
    return env


class Engine:
    def __init__(self, env):
        self.env = dict(os.environ, **env)

    def docker(self, *args, check=True, timeout=300, cwd=None, extra_env=None):
        env = dict(self.env, **(extra_env or {}))
        r = subprocess.run([DOCKER, *args], env=env, capture_output=True, text=True,
                           timeout=timeout, cwd=cwd)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return r

    def has_image(self, ref):
        return self.docker("image", "inspect", ref, check=False).returncode == 0

    def run_detached(self, image, *args, env=None):
        argv = ["run", "-d", "--pull", "never", "--network", "host"]
        for k, v in (env or {}).items():
            argv += ["-e", f"{k}={v}"]
        return self.docker(*argv, image, *args).stdout.strip()

    def exec(self, cid, script, check=True):
        return self.docker("exec", cid, "sh", "-c", script, check=check)

    def remove(self, cid):
        self.docker("rm", "-f", cid, check=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=60.0):
    """The body of the first successful GET of url (loopback only)."""
    assert url.startswith("http://127.0.0.1:"), url
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            last = e
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s: {last}")


def docker_wrapper(folder, log):
    """A docker client that records each invocation in log, then runs the real one."""
    folder.mkdir(parents=True, exist_ok=True)
    w = folder / "docker"
    w.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec {DOCKER} "$@"\n')
    w.chmod(0o755)
    return w


def copy_example(name, dest):
    shutil.copytree(REPO / "examples" / name, dest,
                    ignore=shutil.ignore_patterns(".dbx", ".venv", "__pycache__", "out"))
    return dest


def pump(a, b):
    """Copy what a receives to b until either side closes, then shut both
    down (one direction of a socket proxy; run one per direction)."""
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
