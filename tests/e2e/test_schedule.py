"""Parallelism, failures, -k, outputs that are not made, and interrupts."""

import os
import signal

import pytest

from dbxtest import kill_quietly, pid_alive, sh, wait_for


def rendezvous(me, other, tries):
    """Leave my marker, then wait (at most tries * 50 ms) for the other's marker.

    Both targets can only succeed if they run at the same time; no clock is read.
    """
    return sh(f'''
        touch "$DBX_TEST_SIDE/{me}.here"
        i=0
        while [ ! -e "$DBX_TEST_SIDE/{other}.here" ]; do
          i=$((i + 1))
          if [ "$i" -gt {tries} ]; then echo "{me}: {other} never showed up"; exit 1; fi
          sleep 0.05
        done
        echo {me} > out/{me}
    ''')


def pair_recipe(project, tries):
    project.recipe(f"""\
        target "left"  {{ outputs = {{"out/left"}},  run = {rendezvous("left", "right", tries)} }}
        target "right" {{ outputs = {{"out/right"}}, run = {rendezvous("right", "left", tries)} }}
        """)


def test_j2_runs_two_independent_targets_at_once(project):
    pair_recipe(project, tries=200)  # up to 10 s: never reached when both run together
    r = project.build("-j2")
    assert r.code == 0, r
    assert r.built == {"left", "right"}, r
    assert project.read("out/left") == "left\n" and project.read("out/right") == "right\n"
    # the events say so too: both started before either finished
    order = [(e["event"], e.get("target")) for e in r.events]
    first_finish = min(order.index(("finish", t)) for t in ("left", "right"))
    assert max(order.index(("start", t)) for t in ("left", "right")) < first_finish


def test_j1_never_overlaps(project):
    pair_recipe(project, tries=10)  # 0.5 s: enough to show the other one is not running
    r = project.build("-j1")
    assert r.code == 1, r
    assert len(r.failed) == 1 and len(r.skipped) == 1, r
    (first,) = r.failed
    (second,) = r.skipped
    assert r.started == {first}
    assert "command exited with status 1" in r.error_of(first)
    assert f"{first}: {second} never showed up" in r.err  # the log's tail, on stderr
    assert not os.path.exists(os.path.join(project.side, f"{second}.here"))


def test_jobs_limit_is_respected(project):
    """With -j2 and four targets, never more than two commands run at once."""
    count = sh('''
        d="$DBX_TEST_SIDE"
        ( flock 9; n=$(cat "$d/now" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$d/now"
          echo $n >> "$d/seen" ) 9>"$d/lock"
        sleep 0.2
        ( flock 9; n=$(cat "$d/now"); echo $((n - 1)) > "$d/now" ) 9>"$d/lock"
    ''')
    # each argv differs (a key does not hold the target's name: equal commands share one)
    project.recipe("\n".join(f'target "t{i}" {{ run = {count[:-1]}, "t{i}"}} }}'
                             for i in range(4)) + "\n")
    r = project.build("-j2")
    assert r.code == 0, r
    assert r.built == {"t0", "t1", "t2", "t3"}
    seen = [int(x) for x in (project.side / "seen").read_text().split()]
    assert len(seen) == 4 and max(seen) <= 2, seen


FAILING = """\
    target "bad"   {{ run = {bad} }}
    target "after" {{ deps = {{"bad"}}, run = {count_after} }}
    target "later" {{ deps = {{"after"}}, run = {count_later} }}
    target "indep" {{ run = {count_indep} }}
    """


@pytest.fixture
def failing(project):
    project.recipe(FAILING.format(
        bad=sh("echo about to fail; echo the reason >&2; exit 3"),
        count_after=sh('echo after >> "$DBX_TEST_COUNTER"'),
        count_later=sh('echo later >> "$DBX_TEST_COUNTER"'),
        count_indep=sh('echo indep >> "$DBX_TEST_COUNTER"')))
    return project


def test_failure_stops_the_build_without_k(failing):
    r = failing.build("-j1")
    assert r.code == 1, r
    assert r.status == {"bad": "failed", "after": "skipped", "later": "skipped",
                        "indep": "skipped"}, r
    assert failing.spawned() == []
    assert r.error_of("bad") == "command exited with status 3"
    d = r.done
    assert (d["status"], d["built"], d["failed"], d["skipped"]) == ("failed", 0, 1, 3)
    # stderr names the command and shows the end of its log
    assert "bad: command: sh -c" in r.err
    assert "about to fail" in r.err and "the reason" in r.err
    assert "about to fail\nthe reason\n" in failing.read(".dbx/logs/bad.log")


def test_keep_going_runs_what_does_not_depend_on_the_failure(failing):
    r = failing.build("-k", "-j1")
    assert r.code == 1, r
    assert r.status == {"bad": "failed", "after": "skipped", "later": "skipped",
                        "indep": "built"}, r
    assert failing.spawned() == ["indep"]
    assert r.started == {"bad", "indep"}
    d = r.done
    assert (d["status"], d["built"], d["failed"], d["skipped"]) == ("failed", 1, 1, 2)


def test_failed_target_runs_again_next_time(failing):
    assert failing.build("-k").code == 1
    r = failing.build("-k")
    assert r.code == 1
    assert r.status["bad"] == "failed" and r.status["indep"] == "cached", r


def test_plain_output_of_a_failure(failing):
    r = failing.run("-k", "-j1")
    assert r.code == 1, r
    assert "failed bad" in r.out and "command exited with status 3" in r.out
    assert "skipped after" in r.out and "skipped later" in r.out
    assert "built indep" in r.out
    assert "bad | about to fail" in r.out
    assert "failed: 1 built, 0 cached, 1 failed, 2 skipped" in r.out


def test_output_not_produced_fails_naming_it(project):
    project.recipe("""\
        target "liar" { outputs = {"out/made", "out/never"}, run = {"sh", "-c", "echo x > out/made"} }
        target "user" { deps = {"liar"}, run = {"true"} }
        """)
    r = project.build()
    assert r.code == 1, r
    assert r.status == {"liar": "failed", "user": "skipped"}, r
    assert r.error_of("liar") == "the command succeeded but did not produce output 'out/never'"
    # nothing was recorded: it fails again rather than being cached
    r = project.build()
    assert r.code == 1 and r.status["liar"] == "failed", r
    p = project.run()
    assert p.code == 1
    assert "did not produce output 'out/never'" in p.out


def test_program_that_does_not_exist(project):
    project.recipe("""\
        target "ghost" { run = {"dbx-no-such-program-x9", "arg"} }
        target "fine"  { run = {"true"} }
        """)
    r = project.build("-k")
    assert r.code == 1, r
    assert r.status == {"ghost": "failed", "fine": "built"}, r
    assert "cannot run 'dbx-no-such-program-x9': no such program" in r.error_of("ghost")
    p = project.run("ghost")
    assert p.code == 1
    assert "cannot run 'dbx-no-such-program-x9': no such program" in p.out


def test_command_killed_by_a_signal_fails(project):
    project.recipe("""\
        target "suicide" { run = {"sh", "-c", "kill -9 $$"} }
        """)
    r = project.build()
    assert r.code == 1, r
    assert r.error_of("suicide") == "killed by signal 9"


# ---- interrupts ------------------------------------------------------------

SLOW = sh('''
    echo slow >> "$DBX_TEST_COUNTER"
    if [ -e "$DBX_TEST_SIDE/release" ]; then echo done > out/slow; exit 0; fi
    {trap}
    echo $$ > "$DBX_TEST_SIDE/child.pid.tmp"; mv "$DBX_TEST_SIDE/child.pid.tmp" "$DBX_TEST_SIDE/child.pid"
    sleep 120 &
    echo $! > "$DBX_TEST_SIDE/grandchild.pid.tmp"; mv "$DBX_TEST_SIDE/grandchild.pid.tmp" "$DBX_TEST_SIDE/grandchild.pid"
    wait
    echo done > out/slow
''')


def interrupt_project(project, trap=""):
    project.recipe(f"""\
        target "quick" {{ outputs = {{"out/quick"}},
                         run = {sh('echo quick >> "$DBX_TEST_COUNTER"; echo q > out/quick')} }}
        target "slow"  {{ deps = {{"quick"}}, outputs = {{"out/slow"}}, run = {SLOW.replace("{trap}", trap)} }}
        """)


def pids_of(project):
    def read(name):
        p = project.side / name
        return int(p.read_text()) if p.exists() else None
    got = wait_for(lambda: read("child.pid") and read("grandchild.pid"), timeout=20)
    assert got, "the slow target never recorded its pids"
    return read("child.pid"), read("grandchild.pid")


def interrupt_while_slow_runs(project, sig=signal.SIGINT):
    run = project.spawn("-j2")
    pids = []
    try:
        run.wait_event(lambda e: e["event"] == "finish" and e["target"] == "quick")
        run.wait_event(lambda e: e["event"] == "start" and e["target"] == "slow")
        pids = pids_of(project)
        assert all(pid_alive(p) for p in pids)
        os.kill(run.proc.pid, sig)
        r = run.finish(timeout=30)
    finally:
        run.kill()
    return r, pids


def assert_all_gone(pids):
    try:
        gone = wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=10)
        assert gone, f"left behind: {[p for p in pids if pid_alive(p)]}"
    finally:
        kill_quietly(pids)


@pytest.mark.parametrize("sig, word", [(signal.SIGINT, "interrupted"),
                                       (signal.SIGTERM, "terminated")])
def test_interrupt_stops_children_and_keeps_what_finished(project, sig, word):
    interrupt_project(project)
    r, pids = interrupt_while_slow_runs(project, sig)
    assert r.code == 130, r
    assert r.status["quick"] == "built"
    assert r.status["slow"] != "built"
    assert r.done["status"] == "interrupted"
    assert f"dbx: {word}: stopping 1 running target" in r.err
    assert_all_gone(pids)
    assert not project.exists("out/slow")
    # the next build reuses quick and runs slow again
    (project.side / "release").touch()
    before = project.spawned()
    r2 = project.build()
    assert r2.code == 0, r2
    assert r2.status == {"quick": "cached", "slow": "built"}, r2
    assert project.spawned()[len(before):] == ["slow"]


def test_sigint_kills_a_child_that_ignores_term(project):
    """TERM first, then KILL after the grace time, for the whole process group."""
    interrupt_project(project, trap="trap '' TERM")  # child and grandchild ignore TERM
    r, pids = interrupt_while_slow_runs(project)
    assert r.code == 130, r
    assert_all_gone(pids)
    r2 = project.build("quick")
    assert r2.status == {"quick": "cached"}, r2


def test_second_dbx_in_the_same_project_waits_for_the_first(project):
    """Two builds at once never interleave: the second says it waits, and runs
    once the first is done (finding everything built)."""
    project.recipe(f'''\
        target "slow" {{ run = {sh('sleep 1.5; echo done > out.txt')}, outputs = {{ "out.txt" }} }}
        ''')
    first = project.spawn()
    first.wait_event(lambda e: e["event"] == "start" and e["target"] == "slow")
    second = project.build()
    r1 = first.finish()
    assert r1.status == {"slow": "built"}, r1
    assert "another dbx is working in this project" in second.err and "waiting" in second.err, second
    assert second.status == {"slow": "cached"}, second
