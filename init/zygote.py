"""dbx's warm restarter for Python apps.

    python zygote.py [--modules FILE] [--] PROGRAM [ARG...]

dbx dev puts this file in dev containers at /.dbx/zygote.py and runs

    dbx-init --stay --hup=forward -- /app/start.sh python /.dbx/zygote.py -- PROGRAM...

A Python app spends most of its start importing libraries. This process, the
zygote, imports the app's libraries once and then runs the app in a forked
child, which starts with all of them loaded. On SIGHUP (a source file changed)
it stops the child and forks a fresh one: a restart costs a fork, not an
interpreter start and every import. The app's own modules are never imported
by the zygote, so each child runs the code as it is on disk now.

Which libraries to import is learned: 1 s and 5 s after it starts, each child
writes the modules it has loaded from the standard library or from a
site-packages/dist-packages folder to FILE (default /tmp/dbx-zygote-modules),
one name per line, sorted so a package comes before its submodules; the file
is replaced whole (temp file + rename). The zygote imports those names when it
starts and whenever a child writes the file, so even the first restart after
the container started is warm.

PROGRAM runs warm when it is this very interpreter (same file, same venv):
`python -m MODULE ARG...`, `python FILE ARG...`, `python -c CODE ARG...`, or a
script whose `#!` line names it (console scripts such as the venv's
bin/lablink-allocator). Anything else is started with fork + exec on every
restart ("cold") under the same signal handling.

With DBX_INIT_STARTED=FILE set, each start is also written to FILE as
"PID MONOTONIC_NS" (through a temp file and a rename), as dbx-init does.

Lines on stderr, each starting with "dbx-init: " (dbx dev reads the log):
    started PROGRAM (pid N, warm, M modules preloaded)    a child was forked
    started PROGRAM (pid N, cold)                         ... with nothing preloaded
    PROGRAM exited with status N / killed by signal N     it ended on its own
    PROGRAM is not a Python program; restarts are cold

Signals: SIGHUP restarts the child: SIGKILL to its process group, then a new
fork once the old one is gone, so its port is free. Not SIGTERM: the old code
is being thrown away, and a Python process that exits cleanly spends tens of
milliseconds finalizing its modules before the port is free (DBX_RESTART=term
asks for SIGTERM, and SIGKILL only after DBX_INIT_GRACE_MS, default 5000). SIGTERM/SIGINT/SIGQUIT go to the child's group; the zygote
then exits with the child's status (128+N for signal N). SIGUSR1/SIGUSR2 go
to the child's group. When the child ends on its own the zygote exits with its
status, and dbx-init --stay starts a fresh interpreter after a backoff: that
is the cold fallback when a preloaded state goes bad.

Python 3.8+, standard library only.
"""

import ast
import os
import re
import runpy
import shutil
import signal
import sys
import sysconfig
import threading
import time
import types

DEFAULT_MODULES = "/tmp/dbx-zygote-modules"
LEARN_AT = (1.0, 5.0)  # seconds after its start at which a child writes FILE
WATCH_FOR = 10.0  # seconds after a start during which the zygote looks at FILE
POLL = 0.5  # ... every so often
SIGNALS = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT,
           signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD}
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT}
USAGE = "usage: python zygote.py [--modules FILE] [--] PROGRAM [ARG...]\n"


def say(text):
    sys.stderr.write("dbx-init: " + text + "\n")
    sys.stderr.flush()


def mark_started(pid):
    """Record a start in $DBX_INIT_STARTED as dbx-init does ("PID MONOTONIC_NS"),
    for dbx dev, which sees it there sooner than through the log stream."""
    path = os.environ.get("DBX_INIT_STARTED")
    if not path:
        return
    try:
        with open(path + ".tmp", "w") as f:
            f.write("%d %d\n" % (pid, time.monotonic_ns()))
        os.rename(path + ".tmp", path)
    except OSError:
        pass


def grace_seconds():
    try:
        ms = int(os.environ.get("DBX_INIT_GRACE_MS", ""))
    except ValueError:
        ms = 0
    return (ms if ms > 0 else 5000) / 1000.0


def how_it_ended(status):
    """(exit code as a shell sees it, words for the log) of a wait status."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return 128 + sig, "killed by signal %d" % sig
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1
    return code, "exited with status %d" % code


def signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except OSError:  # the group is gone already
        pass


# ---- what to run, and how ----

class Plan:
    """How a child runs PROGRAM.

    kind is "module" (runpy.run_module), "path" (runpy.run_path), "code"
    (exec of a string) or "exec" (cold: os.execvp). argv becomes sys.argv,
    path0 goes first on sys.path (None: nothing), and app_tops are top-level
    package names that are the app's own, never to be preloaded."""

    def __init__(self, kind, target, argv, path0=None, app_tops=()):
        self.kind, self.target, self.argv = kind, target, list(argv)
        self.path0, self.app_tops = path0, set(app_tops)


def same_python(path):
    """Whether path starts this very interpreter in this very environment: the
    same binary, from the same folder (another venv's python is not ours)."""
    me = sys.executable
    if not me or not path:
        return False
    real = os.path.realpath
    return (real(path) == real(me)
            and real(os.path.dirname(os.path.abspath(path))) == real(os.path.dirname(me)))


def python_plan(program, args):
    """The plan for `python ARGS` (as this interpreter would run them), or
    (None, reason) when it cannot be done in a running interpreter."""
    if not args:
        return None, "%s without a script is interactive" % program
    a = args[0]
    if a.startswith("-m"):
        module, rest = (a[2:], args[1:]) if len(a) > 2 else (args[1] if len(args) > 1 else "", args[2:])
        if not module:
            return None, "%s -m needs a module" % program
        # runpy puts the module's file in argv[0]; -m puts the folder it runs in first on sys.path
        return Plan("module", module, ["-m"] + rest, os.getcwd(), [module.partition(".")[0]]), ""
    if a.startswith("-c"):
        code, rest = (a[2:], args[1:]) if len(a) > 2 else (args[1] if len(args) > 1 else None, args[2:])
        if code is None:
            return None, "%s -c needs code" % program
        return Plan("code", code, ["-c"] + rest, ""), ""
    if a.startswith("-"):
        return None, "%s %s: an interpreter option cannot apply to a running interpreter" % (program, a)
    return Plan("path", a, args, os.path.dirname(os.path.realpath(a))), ""


def shebang(path):
    """The words of path's #! line when it mentions python, else None."""
    try:
        with open(path, "rb") as f:
            line = f.readline(512)
    except OSError:
        return None
    if not line.startswith(b"#!") or b"python" not in line:
        return None
    words = line[2:].decode("utf-8", "replace").split()
    if words and os.path.basename(words[0]) == "env":
        words = words[1:]
        if words and not words[0].startswith("-"):
            words[0] = shutil.which(words[0]) or words[0]
    return words


def script_imports(path):
    """Top-level names a console script imports (it imports the app's package)."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return set()
    tops = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            tops.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.partition(".")[0])
    return tops


def make_plan(program):
    """The plan for PROGRAM [ARG...]: warm when it is Python on this
    interpreter, else "exec" (cold); and why it is cold ("" when warm)."""
    name, args = program[0], program[1:]
    cold = Plan("exec", name, program)
    path = shutil.which(name)
    if path is None:
        return cold, ""  # the exec reports it
    if re.fullmatch(r"python(3(\.\d+)?)?", os.path.basename(path)):
        if not same_python(path):
            return cold, "%s is not the Python the zygote runs on (%s); restarts are cold" % (name, sys.executable)
        plan, why = python_plan(name, args)
        return (plan, "") if plan else (cold, why + "; restarts are cold")
    words = shebang(path)
    if words is None:
        return cold, "%s is not a Python program; restarts are cold" % name
    if len(words) != 1 or not same_python(words[0]):
        return cold, "%s does not run on the Python the zygote runs on (%s); restarts are cold" % (name, sys.executable)
    # as `python SCRIPT`: its folder first on sys.path, its path in argv[0]
    return Plan("path", path, [path] + args, os.path.dirname(os.path.realpath(path)), script_imports(path)), ""


# ---- which modules are libraries ----

def library_roots():
    """Folders (realpath, ending in "/") of the standard library and of every
    site-packages/dist-packages folder: modules from elsewhere are the app's."""
    paths = sysconfig.get_paths()
    dirs = {paths.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.update(p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages"))
    return tuple(sorted({os.path.join(os.path.realpath(d), "") for d in dirs if d}))


def stdlib_roots():
    paths = sysconfig.get_paths()
    dirs = {paths.get("stdlib"), paths.get("platstdlib")}
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs if d)


def module_file(mod):
    f = getattr(mod, "__file__", None)
    return os.path.realpath(f) if isinstance(f, str) and f else None


def is_stdlib(mod, roots):
    """Whether mod (a module or None) is the standard library's."""
    if mod is None:
        return False
    if getattr(mod, "__name__", "") in sys.builtin_module_names:
        return True
    f = module_file(mod)
    return (f is not None and f.startswith(roots)
            and "/site-packages/" not in f and "/dist-packages/" not in f)


def library_modules(lib_roots, std_roots, app_tops):
    """Sorted names of the loaded modules that come from library folders,
    leaving out __main__ and the app's own top-level packages."""
    names = []
    for name, mod in sys.modules.copy().items():
        if name in ("__main__", "__mp_main__") or mod is None or not importable(name):
            continue
        f = module_file(mod)
        if f is None or not f.startswith(lib_roots):
            continue
        top = name.partition(".")[0]
        if top in app_tops and not is_stdlib(sys.modules.get(top), std_roots):
            continue
        names.append(name)
    return sorted(names)  # a package's name sorts before its submodules'


def importable(name):
    """Whether name can be imported by name ("_sysconfigdata_x-y" cannot)."""
    return all(part.isidentifier() for part in name.split("."))


def write_atomic(path, lines):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(tmp, "w") as f:
            f.write("".join(line + "\n" for line in lines))
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


# ---- the zygote ----

class Zygote:
    def __init__(self, plan, program, modules_file, orig_mask):
        self.plan, self.name, self.modules_file = plan, program[0], modules_file
        self.orig_mask = orig_mask  # the signal mask a child starts with
        self.lib_roots, self.std_roots = library_roots(), stdlib_roots()
        self.child = 0  # the running child's pid (and process group)
        self.started_at = 0.0
        self.restarting = self.stopping = False
        self.kill_at = None  # when to SIGKILL the group while restarting or stopping
        self.seen = None  # (inode, mtime, size) of FILE when it was last read
        self.todo = []  # names read from FILE, not imported yet
        self.listed = set()  # every name FILE listed
        self.failed = set()  # names whose import failed: not tried again

    # -- preloading --

    def preload(self):
        """Read FILE when it changed, then import what it lists until a signal
        is pending (the caller handles it and calls again)."""
        try:
            st = os.stat(self.modules_file)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        if key is not None and key != self.seen:
            self.seen = key
            try:
                with open(self.modules_file) as f:
                    names = [n.strip() for n in f]
            except OSError:
                names = []
            names = [n for n in names if n and importable(n)]
            self.listed.update(names)
            self.todo = [n for n in names if n not in sys.modules and n not in self.failed]
        while self.todo and not (signal.sigpending() & SIGNALS):
            self.import_one(self.todo.pop(0))

    def import_one(self, name):
        """Import a library module; one that fails, or that brings in code from
        outside the library folders (the app's), is undone and not retried."""
        if name in sys.modules or name in self.failed:
            return
        before = set(sys.modules)
        try:
            __import__(name)
        except BaseException:  # noqa: B036  (a library may even sys.exit at import)
            self.failed.add(name)
        new = set(sys.modules) - before
        if not all(self.is_library(sys.modules.get(n)) for n in new):
            self.failed.add(name)
            for n in new:  # the app's code must come fresh from disk in each child
                sys.modules.pop(n, None)

    def is_library(self, mod):
        f = module_file(mod)
        return f is None or f.startswith(self.lib_roots)  # builtins and namespaces have no file

    def preloaded(self):
        return sum(1 for n in self.listed if n in sys.modules)

    # -- the child --

    def spawn(self):
        """Fork a child; True in the child, False in the zygote."""
        zygote_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            self.become_child(zygote_pid)
            return True
        try:
            os.setpgid(pid, pid)  # also here, so the group exists before any signal is sent
        except OSError:
            pass
        self.child, self.started_at = pid, time.monotonic()
        n = self.preloaded()
        say("started %s (pid %d, %s)" % (self.name, pid, "warm, %d modules preloaded" % n if n else "cold"))
        mark_started(pid)
        return False

    def become_child(self, zygote_pid):
        os.setpgid(0, 0)
        die_with_parent(zygote_pid)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGQUIT,
                    signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, self.orig_mask)

    def learn_in_background(self):
        """In the child: write FILE at LEARN_AT seconds after the start."""
        plan, start = self.plan, time.monotonic()

        def learn():
            for at in LEARN_AT:
                time.sleep(max(0.0, start + at - time.monotonic()))
                try:
                    names = library_modules(self.lib_roots, self.std_roots, plan.app_tops)
                except Exception:  # noqa: BLE001  (a module with odd attributes: try later)
                    continue
                write_atomic(self.modules_file, names)

        threading.Thread(target=learn, name="dbx-zygote-learn", daemon=True).start()

    # -- the loop --

    def serve(self):
        """Run the zygote. Returns only in a forked child, which then runs the
        plan; the zygote itself ends in exit_now."""
        if self.plan.kind != "exec":
            self.preload()
        if self.spawn():
            return
        while True:
            now = time.monotonic()
            timeout = None
            if self.restarting or self.stopping:
                if now >= self.kill_at:
                    signal_group(self.child, signal.SIGKILL)
                    self.kill_at = now + 3600  # KILL is final: just reap from here on
                timeout = self.kill_at - now
            if self.plan.kind != "exec" and (self.todo or now - self.started_at < WATCH_FOR):
                timeout = min(timeout if timeout is not None else POLL, 0 if self.todo else POLL)
            if timeout is None:
                info = signal.sigwaitinfo(SIGNALS)
            else:
                info = signal.sigtimedwait(SIGNALS, max(0.0, timeout))
            if info is None:  # timed out: a chance to learn
                if self.child and not self.stopping and self.plan.kind != "exec":
                    self.preload()
                continue
            sig = info.si_signo
            if sig == signal.SIGCHLD:
                if self.reap():
                    return
            elif sig == signal.SIGHUP:
                if self.child and not (self.restarting or self.stopping):
                    self.restarting = True
                    graceful = os.environ.get("DBX_RESTART") == "term"
                    signal_group(self.child, signal.SIGTERM if graceful else signal.SIGKILL)
                    self.kill_at = time.monotonic() + (grace_seconds() if graceful else 3600)
            else:  # stop signals and SIGUSR1/SIGUSR2: the child's business
                signal_group(self.child, sig)
                if sig in STOP_SIGNALS and not self.stopping:
                    if not self.restarting:  # else the KILL already has its time
                        self.kill_at = time.monotonic() + grace_seconds()
                    self.stopping, self.restarting = True, False

    def reap(self):
        """Reap every ended child. True when a new child was forked and this
        is it; exits the zygote when its child ended otherwise."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return False
            if pid != self.child:
                continue  # not ours to report
            self.child = 0
            signal_group(pid, signal.SIGKILL)  # whatever of its group is left
            code, how = how_it_ended(status)
            if self.stopping:
                exit_now(code)
            if not self.restarting:
                say("%s %s" % (self.name, how))
                exit_now(code)
            self.restarting = False
            if self.plan.kind != "exec":
                self.preload()  # what the child would import anyway; stops for a signal
            if self.spawn():
                return True


def exit_now(code):
    """End the zygote. Not sys.exit: a thread some library started at import
    must not keep it alive, and it has nothing to clean up."""
    sys.stderr.flush()
    os._exit(code)


def find_prctl():
    """libc's prctl, looked up once in the zygote so that a child does not pay
    for importing ctypes; None where there is none."""
    try:
        import ctypes
        return ctypes.CDLL(None).prctl
    except Exception:  # noqa: BLE001  (no ctypes, or not Linux: a convenience only)
        return None


PRCTL = find_prctl()


def die_with_parent(zygote_pid):
    """Ask the kernel to SIGKILL this child when the zygote dies (Linux), so
    that a zygote killed outright leaves no app behind."""
    PR_SET_PDEATHSIG = 1
    try:
        if PRCTL and PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL)) == 0 and os.getppid() != zygote_pid:
            os._exit(1)  # it died before we asked
    except Exception:  # noqa: BLE001
        pass


def run(zygote):
    """In a forked child: run the plan as the interpreter would."""
    plan = zygote.plan
    if plan.kind == "exec":
        for sig in ("SIGPIPE", "SIGXFSZ"):  # Python ignores them; a program expects the default
            if hasattr(signal, sig):
                signal.signal(getattr(signal, sig), signal.SIG_DFL)
        try:
            os.execvp(plan.target, plan.argv)
        except OSError as e:
            say("cannot run %s: %s" % (plan.target, e.strerror))
            os._exit(127)
    sys.argv = plan.argv
    if plan.path0 is not None and not getattr(sys.flags, "safe_path", False):  # -P, PYTHONSAFEPATH
        sys.path.insert(0, plan.path0)
    zygote.learn_in_background()
    if plan.kind == "module":
        runpy.run_module(plan.target, run_name="__main__", alter_sys=True)
    elif plan.kind == "path":
        runpy.run_path(plan.target, run_name="__main__")
    else:
        main = types.ModuleType("__main__")
        sys.modules["__main__"] = main
        exec(compile(plan.target, "<string>", "exec"), main.__dict__)


def parse_args(argv):
    """(modules file, program argv) from the command line; exits 2 on a mistake."""
    modules, i = DEFAULT_MODULES, 0
    while i < len(argv) and argv[i].startswith("-"):
        a = argv[i]
        i += 1
        if a == "--":
            break
        if a == "--modules" and i < len(argv):
            modules, i = argv[i], i + 1
        elif a.startswith("--modules="):
            modules = a[len("--modules="):]
        else:
            sys.stderr.write("zygote: unknown option %s\n%s" % (a, USAGE))
            sys.exit(2)
    if i >= len(argv):
        sys.stderr.write(USAGE)
        sys.exit(2)
    return modules, argv[i:]


def main():
    # blocked from the start, so none is lost; the loop takes them with sigwait
    orig_mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    modules, program = parse_args(sys.argv[1:])
    # the zygote's own folder is no part of the app's path
    here = os.path.dirname(os.path.realpath(__file__))
    if sys.path and sys.path[0] == here:
        del sys.path[0]
    plan, why = make_plan(program)
    if why:
        say(why)
    try:
        import ctypes  # noqa: F401  (imported once here for die_with_parent in each child)
    except ImportError:
        pass
    zygote = Zygote(plan, program, modules, orig_mask)
    zygote.serve()  # returns in a child only
    return zygote


if __name__ == "__main__":
    run(main())
