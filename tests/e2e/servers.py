"""Servers the end-to-end tests start for themselves, each on 127.0.0.1 with a
port of its own, and stop by their own process id: a Redis server (the trades
example's broker), a PostgreSQL server (Debian's postgresql: migrations of the
real-world projects run against it), a registry (Debian's docker-registry), a second, empty
private dockerd with its own data root and socket, and an sshd that serves the
test engine as `docker system dial-stdio` does."""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import warnings

from engine import free_port


def wait_port(port, proc, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args[0]} exited ({proc.returncode}) before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"{proc.args[0]} did not listen on 127.0.0.1:{port} within {timeout} s")


def stop(proc, timeout=20):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Redis:
    def __init__(self):
        exe = shutil.which("redis-server")
        assert exe, "redis-server is missing: run scripts/setup.sh (Debian's redis-server)"
        self.port = free_port()
        self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        self.address = f"127.0.0.1:{self.port}"

    def cmd(self, *args):
        """One command in the Redis protocol; the reply, decoded simply."""
        parts = [f"*{len(args)}\r\n".encode()]
        for a in args:
            b = str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"".join(parts))
            reply = s.recv(65536)
        return reply.decode(errors="replace")

    def xlen(self, stream):
        reply = self.cmd("XLEN", stream)
        assert reply.startswith(":"), reply
        return int(reply[1:].strip())

    def close(self):
        stop(self.proc)


class Postgres:
    """A throwaway PostgreSQL cluster (trust authentication, loopback only)
    with one database; runs as the postgres user, as the server insists."""

    def __init__(self, database):
        bins = sorted(p for p in (os.listdir("/usr/lib/postgresql") if os.path.isdir("/usr/lib/postgresql") else []))
        assert bins, "PostgreSQL is missing: run scripts/setup.sh (Debian's postgresql)"
        bindir = f"/usr/lib/postgresql/{bins[-1]}/bin"
        self.dir = tempfile.mkdtemp(prefix="dbx-pg-")
        os.chmod(self.dir, 0o755)
        data, sock = os.path.join(self.dir, "data"), os.path.join(self.dir, "sock")
        for d in (data, sock):
            os.mkdir(d)
        shutil.chown(data, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
        subprocess.run(as_pg + [f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120)
        self.port = free_port()
        self.proc = subprocess.Popen(as_pg + [f"{bindir}/postgres", "-D", data, "-h", "127.0.0.1",
                                              "-p", str(self.port), "-k", sock],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        self.psql = ["runuser", "-u", "postgres", "--", f"{bindir}/psql", "-h", "127.0.0.1", "-p", str(self.port),
                     "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-Atc"]
        end = time.monotonic() + 30
        while subprocess.run(self.psql + ["select 1"], capture_output=True).returncode != 0:
            assert time.monotonic() < end, "PostgreSQL did not accept connections"
            time.sleep(0.2)
        self.query(f"create database {database}", db="postgres")
        self.database = database
        self.url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def query(self, sql, db=None):
        r = subprocess.run(self.psql + [sql, "-d", db or self.database], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def close(self):
        stop(self.proc)  # runuser passes the signal on to postgres (a smart shutdown)
        shutil.rmtree(self.dir, ignore_errors=True)


BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class Registry:
    """docker-registry serving from a temporary folder on 127.0.0.1:PORT; with
    users ({name: password}), only to them (htpasswd, bcrypt)."""

    def __init__(self, users=None):
        exe = shutil.which("docker-registry")
        assert exe, "docker-registry is missing: run scripts/setup.sh (Debian's docker-registry)"
        self.dir = tempfile.mkdtemp(prefix="dbx-registry-")
        self.port = free_port()
        self.users = users or {}
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {self.dir}/data\nhttp:\n  addr: 127.0.0.1:{self.port}\n")
            if users:
                f.write(f"auth:\n  htpasswd:\n    realm: dbx-test\n    path: {self.dir}/htpasswd\n")
        if users:
            with warnings.catch_warnings():  # crypt is deprecated; bookworm's Python still has it
                warnings.simplefilter("ignore", DeprecationWarning)
                import crypt
            with open(os.path.join(self.dir, "htpasswd"), "w") as f:
                for name, password in users.items():
                    salt = "$2b$05$" + "".join(secrets.choice(BCRYPT_ALPHABET) for _ in range(22))
                    hashed = crypt.crypt(password, salt)
                    assert hashed and hashed.startswith("$2b$"), "this libc's crypt() has no bcrypt"
                    f.write(f"{name}:{hashed}\n")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen([exe, "serve", cfg], stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)
        self.address = f"127.0.0.1:{self.port}"

    def tags(self, repo):
        import base64
        import json
        req = urllib.request.Request(f"http://{self.address}/v2/{repo}/tags/list")
        if self.users:
            name, password = next(iter(self.users.items()))
            token = base64.b64encode(f"{name}:{password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=5) as r:
            return sorted(json.loads(r.read().decode())["tags"] or [])

    def close(self):
        stop(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class SecondEngine:
    """A private dockerd of its own: empty data root, own socket, no bridge."""

    def __init__(self, root="/var/cache/dbx-engine2"):
        os.makedirs(root, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="e", dir=root)  # short: a socket path has a length limit
        self.sock = os.path.join(self.dir, "docker.sock")
        self.log = open(os.path.join(self.dir, "dockerd.log"), "w")
        self.proc = subprocess.Popen(
            ["/usr/sbin/dockerd", "--data-root", os.path.join(self.dir, "data"),
             "--exec-root", os.path.join(self.dir, "x"), "-H", f"unix://{self.sock}",
             "--pidfile", os.path.join(self.dir, "pid"), "--bridge=none", "--iptables=false",
             "--ip6tables=false"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}")
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"the second dockerd exited: {open(self.log.name).read()[-2000:]}")
            if os.path.exists(self.sock) and self.docker("version", check=False).returncode == 0:
                return
            time.sleep(0.25)
        self.close()
        raise AssertionError("the second dockerd did not answer within 60 s")

    def docker(self, *args, check=True, timeout=300):
        r = subprocess.run(["/usr/bin/docker", *args], env=self.env, capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} (second engine) failed:\n{r.stdout}{r.stderr}")
        return r

    def close(self):
        for cid in self.docker("ps", "-aq", check=False).stdout.split():
            self.docker("rm", "-f", cid, check=False)
        stop(self.proc, timeout=30)
        self.log.close()
        # what dockerd leaves mounted below its folder (the network namespace under
        # its exec root, overlays under its data root): deepest first
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f if line.split()[1].startswith(self.dir + "/")]
        for m in sorted(mounts, reverse=True):
            if subprocess.run(["umount", m], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        assert not os.path.exists(self.dir), f"could not remove {self.dir}"


class SSHEngine:
    """sshd on 127.0.0.1:PORT whose only login (a key made here) runs
    `docker system dial-stdio` against the test engine; an `ssh` wrapper in
    self.bin that uses that key, to put first on PATH for dbx and the docker CLI."""

    def __init__(self, docker_host):
        assert shutil.which("sshd") or os.path.exists("/usr/sbin/sshd"), \
            "sshd is missing: run scripts/setup.sh (Debian's openssh-server)"
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation folder
        self.dir = tempfile.mkdtemp(prefix="dbx-ssh-test-")
        d = self.dir
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(d, name)], check=True)
        pub = open(os.path.join(d, "client_key.pub")).read().strip()
        with open(os.path.join(d, "authorized_keys"), "w") as f:
            f.write(f'command="DOCKER_HOST={docker_host} exec /usr/bin/docker system dial-stdio",'
                    f"no-port-forwarding,no-pty,no-agent-forwarding,no-X11-forwarding {pub}\n")
        self.port = free_port()
        cfg = os.path.join(d, "sshd_config")
        with open(cfg, "w") as f:
            f.write(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n"
                    f"AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n"
                    "StrictModes no\n")
        self.log = open(os.path.join(d, "sshd.log"), "w")
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)
        self.bin = os.path.join(d, "bin")
        os.makedirs(self.bin)
        wrapper = os.path.join(self.bin, "ssh")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nexec /usr/bin/ssh -i {d}/client_key -o StrictHostKeyChecking=no "
                    f'-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "$@"\n')
        os.chmod(wrapper, 0o755)
        self.url = f"ssh://root@127.0.0.1:{self.port}"

    def env(self):
        """DOCKER_HOST and PATH for a process that should reach the engine over this ssh."""
        return {"DOCKER_HOST": self.url, "PATH": f"{self.bin}:{os.environ['PATH']}"}

    def close(self):
        stop(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
