"""What runs and what does not: first build, no-op build, touch, edits, explain, -n."""

import os
import time

import pytest

from dbxtest import counting_cmd

ALL = {"a", "b", "ab", "top", "lone"}


@pytest.fixture
def chain(project):
    """a, b -> ab -> top, plus an unrelated lone; every command counts itself."""
    c = counting_cmd  # c(name, script): the command appends name to the counter, then runs
    project.recipe(f"""\
        target "a" {{ inputs = {{"src/a.txt"}}, outputs = {{"out/a"}},
                     run = {c("a", "cat src/a.txt > out/a")} }}
        target "b" {{ inputs = {{"src/b.txt"}}, outputs = {{"out/b"}},
                     run = {c("b", "cat src/b.txt > out/b")} }}
        target "ab" {{ deps = {{"a", "b"}}, inputs = {{"out/a", "out/b"}}, outputs = {{"out/ab"}},
                      run = {c("ab", "cat out/a out/b > out/ab")} }}
        target "top" {{ deps = {{"ab"}}, outputs = {{"out/top"}},
                       run = {c("top", "tr a-z A-Z < out/ab > out/top")} }}
        target "lone" {{ inputs = {{"src/c.txt"}}, outputs = {{"out/c"}},
                        run = {c("lone", "cp src/c.txt out/c")} }}
        """)
    project.write("src/a.txt", "hello\n")
    project.write("src/b.txt", "world\n")
    project.write("src/c.txt", "alone\n")
    return project


def first_build(p):
    r = p.build()
    assert r.code == 0, r
    return r


def test_first_build_runs_every_target(chain):
    r = first_build(chain)
    assert r.status == {t: "built" for t in ALL}, r
    assert r.started == ALL
    assert r.of("plan") == [{"event": "plan", "targets": 5, "dirty": 5}]
    done = r.done
    assert (done["status"], done["built"], done["cached"], done["failed"], done["skipped"]) == \
        ("ok", 5, 0, 0, 0)
    assert sorted(chain.spawned()) == sorted(ALL)
    assert chain.read("out/top") == "HELLO\nWORLD\n"
    # events come in a sane order: a target starts before it finishes, after its deps finish
    order = [(e["event"], e["target"]) for e in r.events if "target" in e]
    for t in ALL:
        assert order.index(("start", t)) < order.index(("finish", t))
    assert order.index(("finish", "a")) < order.index(("start", "ab"))
    assert order.index(("finish", "b")) < order.index(("start", "ab"))
    assert order.index(("finish", "ab")) < order.index(("start", "top"))
    # the key in start and finish agree and look like SHA-256
    for e in r.of("finish"):
        assert len(e["key"]) == 64 and int(e["key"], 16) >= 0
        assert isinstance(e["ms"], int) and e["ms"] >= 0


def test_second_build_runs_nothing(chain):
    first = first_build(chain)
    spawned = chain.spawned()
    r = chain.build()
    assert r.code == 0, r
    assert r.status == {t: "cached" for t in ALL}, r
    assert r.started == set(), "a cached target must not get a start event"
    assert r.of("plan")[0]["dirty"] == 0
    assert r.done["built"] == 0 and r.done["cached"] == 5
    assert chain.spawned() == spawned, "no command may run in a no-op build"
    keys = {e["target"]: e["key"] for e in first.of("finish")}
    assert {e["target"]: e["key"] for e in r.of("finish")} == keys


def test_touch_without_change_runs_nothing(chain):
    first_build(chain)
    spawned = chain.spawned()
    later = time.time() + 5
    for f in ("src/a.txt", "src/b.txt", "src/c.txt", "build.lua"):
        os.utime(chain.path(f), (later, later))
    # and rewrite one file with the very same bytes (new mtime, new ctime)
    chain.write("src/c.txt", "alone\n")
    r = chain.build()
    assert r.code == 0, r
    assert r.built == set() and r.cached == ALL, r
    assert chain.spawned() == spawned


@pytest.mark.parametrize("edit, expect", [
    ("src/a.txt", {"a", "ab", "top"}),
    ("src/b.txt", {"b", "ab", "top"}),
    ("src/c.txt", {"lone"}),
])
def test_editing_one_input_reruns_exactly_it_and_its_dependents(chain, edit, expect):
    first_build(chain)
    before = chain.spawned()
    old = chain.read(edit)
    chain.write(edit, old.replace(old[0], "j", 1))  # same size, new bytes, right away
    r = chain.build()
    assert r.code == 0, r
    assert r.built == expect, r
    assert r.cached == ALL - expect
    assert r.started == expect
    assert sorted(chain.spawned()[len(before):]) == sorted(expect)
    assert r.of("plan")[0]["dirty"] == len(expect)
    # and the build after that is a no-op again
    again = chain.build()
    assert again.built == set() and again.cached == ALL, again


def test_same_size_edit_right_after_build_is_seen(project):
    """The racy case: a same-size edit in the same instant as the last build."""
    project.recipe("""\
        target "copy" { inputs = {"in.txt"}, outputs = {"out.txt"}, run = {"cp", "in.txt", "out.txt"} }
        """)
    for i in range(5):
        project.write("in.txt", f"v{i}\n")
        r = project.build()
        assert r.code == 0 and r.built == {"copy"}, (i, r)
        assert project.read("out.txt") == f"v{i}\n"


def test_deleting_an_output_reruns_its_target(chain):
    first_build(chain)
    os.unlink(chain.path("out/c"))
    r = chain.build()
    assert r.built == {"lone"}, r
    assert chain.exists("out/c")


def test_recipe_param_change_reruns_only_that_target(chain):
    first_build(chain)
    text = chain.read("build.lua").replace("cp src/c.txt out/c", "cp src/c.txt out/c; true")
    chain.write("build.lua", text, dedent=False)
    r = chain.build()
    assert r.code == 0, r
    assert r.built == {"lone"}, r


def test_adding_a_file_to_a_glob_reruns_the_target(project):
    project.recipe("""\
        target "cat" { inputs = glob("src/*.txt"), outputs = {"all.txt"},
                       run = {"sh", "-c", "cat src/*.txt > all.txt"} }
        """)
    project.write("src/1.txt", "one\n")
    assert project.build().built == {"cat"}
    assert project.build().cached == {"cat"}
    project.write("src/2.txt", "two\n")
    r = project.build()
    assert r.built == {"cat"}, r
    assert project.read("all.txt") == "one\ntwo\n"


def test_build_named_target_builds_only_its_closure(chain):
    r = chain.build("ab")
    assert r.code == 0, r
    assert r.built == {"a", "b", "ab"}, r
    assert not chain.exists("out/top") and not chain.exists("out/c")
    # the default group wins over "everything"
    chain.write("build.lua", chain.read("build.lua") + 'group "default" { "lone" }\n', dedent=False)
    r = chain.build()
    assert r.status == {"lone": "built"}, r


def test_explain_names_the_changed_file(chain):
    first_build(chain)
    r = chain.run("explain", "a")
    assert r.code == 0, r
    assert "up to date" in r.out
    chain.write("src/a.txt", "changed\n")
    r = chain.run("explain", "a")
    assert r.code == 0, r
    assert "a (cmd, declared at build.lua:1)" in r.out
    assert "input src/a.txt changed" in r.out, r
    r = chain.run("explain", "top")
    assert r.code == 0, r
    assert "dependency ab changed" in r.out, r
    spawned = chain.spawned()
    assert chain.build("a").built == {"a"}
    assert "up to date" in chain.run("explain", "a").out
    assert len(chain.spawned()) == len(spawned) + 1


def test_explain_names_added_and_removed_inputs(project):
    project.recipe("""\
        target "cat" { inputs = glob("src/*.txt"), outputs = {"all.txt"},
                       run = {"sh", "-c", "cat src/*.txt > all.txt"} }
        """)
    project.write("src/1.txt", "one\n")
    project.write("src/2.txt", "two\n")
    assert project.build().code == 0
    os.unlink(project.path("src/1.txt"))
    project.write("src/3.txt", "three\n")
    r = project.run("explain", "cat")
    assert r.code == 0, r
    assert "src/1.txt" in r.out and "src/3.txt" in r.out, r
    assert "removed" in r.out and "added" in r.out, r


def test_explain_never_built(chain):
    r = chain.run("explain", "lone")
    assert r.code == 0, r
    assert "never built" in r.out


def test_dry_run_says_what_and_why_and_runs_nothing(chain):
    r = chain.run("-n")
    assert r.code == 0, r
    for t in ("a", "b", "lone"):
        assert f"would build {t}: never built" in r.out, r
    for t in ("ab", "top"):  # their keys wait for a and b's outputs
        assert f"would build {t}: an input is made by another target that has to run first" \
            in r.out, r
    assert "5 of 5 targets would build" in r.out
    assert chain.spawned() == []
    assert not chain.path("out").exists()

    first_build(chain)
    spawned = chain.spawned()
    chain.write("src/b.txt", "changed\n")
    r = chain.run("--dry-run")
    assert r.code == 0, r
    lines = [l for l in r.out.splitlines() if l.startswith("would build")]
    assert sorted(l.split(":")[0] for l in lines) == \
        ["would build ab", "would build b", "would build top"], r
    assert "would build b: input src/b.txt changed" in r.out
    assert "would build ab: dependency b changed" in r.out
    assert "3 of 5 targets would build" in r.out
    assert chain.spawned() == spawned
    assert chain.read("out/b") == "world\n"
    # -n recorded nothing: the real build still runs those three
    assert chain.build().built == {"b", "ab", "top"}


def test_clean_then_build_runs_everything(chain):
    first_build(chain)
    r = chain.run("clean")
    assert r.code == 0, r
    assert not chain.exists("out/top") and not chain.exists(".dbx")
    assert chain.build().built == ALL
