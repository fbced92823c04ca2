"""The command line's own help, version and usage errors."""

import pytest


def test_help_is_the_overview(project):
    for args in (["--help"], ["-h"], ["help"]):
        r = project.run(*args)
        assert r.code == 0, r
        assert r.out.startswith("usage: dbx [OPTIONS] [COMMAND] [ARGS...]"), r
        for cmd in ("build", "targets", "graph", "explain", "gen", "init", "engine", "clean"):
            assert f"\n  {cmd} " in r.out, (cmd, r.out)
        assert "Exit status: 0 ok, 1 a target failed, 2 usage or recipe error, 130 interrupted" in r.out


@pytest.mark.parametrize("cmd", ["build", "targets", "graph", "explain", "gen", "init", "engine", "clean"])
def test_each_command_has_its_help(project, cmd):
    for args in ([cmd, "--help"], ["help", cmd]):
        r = project.run(*args)
        assert r.code == 0, r
        assert r.out.startswith(f"usage: dbx [OPTIONS] {cmd}"), r


def test_version(project):
    r = project.run("--version")
    assert r.code == 0 and r.out.startswith("dbx ") and "Lua 5.4" in r.out and "libuv" in r.out, r


def test_help_for_no_such_command(project):
    r = project.run("help", "nosuch")
    assert r.code == 2 and "no command 'nosuch'" in r.err, r
