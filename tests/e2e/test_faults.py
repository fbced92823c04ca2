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
