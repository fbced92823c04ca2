"""A full disk and a read-only .dbx/: a clear error and exit code, and nothing
half-written trusted afterwards. .dbx/ is a small tmpfs (or a read-only one)
mounted for the test; needs root, which `make test` has."""

import os
import shutil
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")

RECIPE = """\
for i = 1, 4 do
  target("t" .. i) {
    run = { "sh", "-c", "head -c " .. (i == 2 and 60000 or 100) .. " /dev/zero | tr '\\\\0' x; echo > out" .. i },
    outputs = { "out" .. i },
  }
end
"""


def mount_tmpfs(path, *opts):
    path.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(opts), "tmpfs", str(path)], check=True)


def umount(path):
    subprocess.run(["umount", str(path)], check=True)


def test_a_full_disk_fails_the_target_clearly_and_records_nothing_for_it(project, tmp_path):
    project.recipe(RECIPE)
    state = project.path(".dbx")
    mount_tmpfs(state, "size=32k")
    try:
        r = project.run("-j1", "-k", "build")
        keep = tmp_path / "state"
        shutil.copytree(state, keep)  # what dbx left on the full disk
    finally:
        umount(state)
    assert r.code == 1, r
    assert "t2" in r.out and "could not be kept in .dbx/logs/t2.log: No space left on device" in r.out + r.err, r
    # the next build, on that same state (now with room), trusts only what was recorded
    shutil.rmtree(state)
    shutil.copytree(keep, state)
    again = project.build("-j1")
    assert again.code == 0, again
    assert "t2" in again.built, "a target whose record could not be trusted runs again"
    assert {"t1", "t3", "t4"} <= again.cached | again.built
    assert project.build().built == set(), "and then everything is up to date"


def test_a_read_only_state_folder_is_a_clear_error(project):
    project.recipe(RECIPE)
    state = project.path(".dbx")
    mount_tmpfs(state, "ro", "size=32k")
    try:
        r = project.run("build")
    finally:
        umount(state)
    assert r.code == 2, r
    assert ".dbx" in r.err and "Read-only file system" in r.err, r
    assert not any(project.exists(f"out{i}") for i in range(1, 5)), "nothing ran"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_recipe_loads_exits_130(project, sig):
    """Before any build runs (here: a recipe that takes a while to evaluate)."""
    project.recipe('local n = 0\nfor i = 1, 100000000 do n = n + i end\ntarget "t" { run = { "true" } }\n')
    proc = subprocess.Popen([str(project.dbx), "build"], cwd=project.root, env=project.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.1)
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    assert proc.returncode == 130, proc.returncode
    assert not project.exists(".dbx/store"), "nothing was recorded"


def test_an_input_that_vanishes_during_the_build_fails_its_target(project):
    project.write("f.txt", "x\n")
    project.recipe('target "a" { run = { "rm", "f.txt" } }\n'
                   'target "b" { deps = { "a" }, inputs = { "f.txt" }, run = { "true" } }\n')
    r = project.build("b")
    assert r.code == 1, r
    assert "input 'f.txt' disappeared during the build, after dbx read it" in r.error_of("b"), r
    records = [line.split("\t")[1] for line in project.read(".dbx/store").splitlines()[1:] if "\t" in line]
    assert records == ["a"], "nothing recorded for b"


def test_an_input_that_changes_during_the_build_is_not_recorded(project):
    project.write("f.txt", "x\n")
    project.recipe('target "a" { run = { "sh", "-c", "echo more >> f.txt" } }\n'
                   'target "b" { deps = { "a" }, inputs = { "f.txt" }, run = { "true" } }\n')
    r = project.build("b")
    assert r.code == 0, r
    assert "b: input 'f.txt' changed during the build, after dbx read it; the result is not recorded" in r.err
    again = project.build("b")
    assert "b" in again.built, "the next build runs it again, with what the file holds now"
    assert project.build("b").built == set()


def test_a_path_longer_than_the_system_allows_is_an_error_not_a_silent_skip(project):
    project.recipe('target "a" { inputs = { "**/f.txt" }, run = { "true" } }\n')
    here = os.getcwd()
    try:
        os.chdir(project.root)
        for _ in range(25):  # 25 x 201 bytes: past PATH_MAX (4096)
            os.mkdir("d" * 200)
            os.chdir("d" * 200)
        with open("f.txt", "w") as f:
            f.write("x")
    finally:
        os.chdir(here)
    r = project.run("build")
    assert r.code == 2, r
    assert "input '**/f.txt': the path 'ddd" in r.err and "is longer than this system allows" in r.err, r
    subprocess.run(["rm", "-rf", str(project.path("d" * 200))], check=False)


def test_a_symlink_loop_as_an_input_is_named(project):
    os.symlink("loop", project.path("loop"))
    os.makedirs(project.path("d"))
    os.symlink("..", project.path("d/up"))  # a folder link back up: globs do not follow it
    project.write("d/f.txt", "x\n")
    project.recipe('target "a" { inputs = { "loop" }, run = { "true" } }\n'
                   'target "b" { inputs = { "d/**" }, run = { "true" } }\n')
    r = project.run("build", "a")
    assert r.code == 2 and "cannot read input 'loop': Too many levels of symbolic links" in r.err, r
    r = project.build("b")
    assert r.code == 0 and r.built == {"b"}, r


def test_a_file_name_that_is_not_utf8_keeps_the_json_valid(project):
    raw = os.fsencode(str(project.root)) + b"/caf\xe9.txt"
    with open(raw, "wb") as f:
        f.write(b"x")
    project.recipe('target "a" { inputs = { "*.txt" }, run = { "true" } }\n')
    r = project.build()
    assert r.code == 0 and r.built == {"a"}, r  # every line of stdout parsed as JSON
    with open(raw, "wb") as f:
        f.write(b"changed")
    ex = subprocess.run([str(project.dbx), "explain", "a"], cwd=project.root, env=project.env(),
                        capture_output=True)
    assert ex.returncode == 0 and b"input caf\xe9.txt changed" in ex.stdout, ex
    assert project.build().built == {"a"}
