"""Recipe values reach commands as they are: argv arrays, never a shell line.

Target names, paths and env values holding `;`, `$(...)`, backquotes, quotes and
newlines must do nothing surprising: no file appears that such text would make
if a shell saw it, and every byte arrives where it was sent.
"""

import json
import os

import pytest

from dbxtest import lua_str

NASTY = "$(touch pwned); `touch pwned2` && touch pwned3 | 'single' \"double\" \\back\nline 2 *"
# no * ? [ in paths: those make a glob (documented), and this one must stay a plain path
NASTY_PATH = "in/a;b $(touch pwned) `touch pwned2` 'q' \"dq\" \\ \nnl.txt"
NASTY_OUT = "out/x;y $(touch pwned3) 'q' \"dq\"\nnl.txt"


def no_pwned(project):
    found = [p for p in os.listdir(project.root) if p.startswith("pwned")]
    found += [p for p in os.listdir(project.side) if p.startswith("pwned")]
    assert found == [], f"a shell interpreted recipe text: {found}"


def test_argv_is_passed_as_is(project):
    project.recipe(f"""\
        target "p" {{ run = {{"printf", "%s", "$(touch pwned); x"}} }}
        target "q" {{ run = {{"printf", "[%s]", {lua_str(NASTY)}, "", "  "}} }}
        """)
    r = project.build()
    assert r.code == 0 and r.built == {"p", "q"}, r
    assert project.read(".dbx/logs/p.log") == "$(touch pwned); x"
    assert project.read(".dbx/logs/q.log") == f"[{NASTY}][][  ]"
    no_pwned(project)


def test_path_and_env_values_are_passed_as_is(project):
    project.recipe(f"""\
        local weird = {lua_str(NASTY_PATH)}
        local out = {lua_str(NASTY_OUT)}
        target "t" {{
          inputs = {{ weird }},
          outputs = {{ out }},
          env = {{ WEIRD = {lua_str(NASTY)} }},
          run = {{ "sh", "-c", 'cp "$1" "$2" && printf "%s" "$WEIRD" > out/env.txt', "sh", weird, out }},
        }}
        """)
    project.write(NASTY_PATH, "payload\n", dedent=False)
    r = project.build()
    assert r.code == 0 and r.built == {"t"}, r
    assert project.read(NASTY_OUT) == "payload\n"
    assert project.read("out/env.txt") == NASTY
    no_pwned(project)
    # the store copes with such paths: a no-op, then the edit is seen and explained
    r = project.build()
    assert r.cached == {"t"}, r
    project.write(NASTY_PATH, "changed\n", dedent=False)
    e = project.run("explain", "t")
    assert e.code == 0, e
    assert "changed" in e.out and "in/a;b $(touch pwned)" in e.out, e
    r = project.build()
    assert r.built == {"t"}, r
    assert project.read(NASTY_OUT) == "changed\n"
    assert project.build().cached == {"t"}
    no_pwned(project)


def test_env_value_replaces_the_inherited_one_exactly(project):
    project.recipe(f"""\
        target "e" {{ env = {{ HOME = {lua_str(NASTY)}, EMPTY = "" }}, outputs = {{"env.json"}},
                     run = {{ "python3", "-c",
                              "import json, os; json.dump([os.environ['HOME'], os.environ['EMPTY'], " ..
                              "sum(1 for k in os.environ if k == 'HOME')], open('env.json', 'w'))" }} }}
        """)
    r = project.build()
    assert r.code == 0, r
    assert json.loads(project.read("env.json")) == [NASTY, "", 1]
    no_pwned(project)


@pytest.mark.parametrize("name", [
    "a;touch pwned",
    "$(touch pwned)",
    "`touch pwned`",
    "it's",
    'say "hi"',
    "two\nlines",
    "-rf",
])
def test_target_names_with_shell_text_are_refused(project, name):
    project.recipe(f"""\
        target {lua_str(name)} {{ run = {{"touch", "pwned"}} }}
        """)
    r = project.run()
    assert r.code == 2, r
    assert "may hold only letters, digits" in r.err
    no_pwned(project)


@pytest.mark.parametrize("arg", ["a;touch pwned", "$(touch pwned)", "x\ny", "'q'"])
def test_command_line_target_with_shell_text(project, arg):
    project.recipe("""\
        target "a" { run = {"touch", "made"} }
        """)
    for args in (["build", arg], ["explain", arg], ["graph", arg]):
        r = project.run(*args)
        assert r.code == 2, r
        assert f"unknown target '{arg}'" in r.err, r
    assert not project.exists("made")
    no_pwned(project)


def test_names_with_allowed_punctuation_work_everywhere(project):
    """Names may hold / : @ + . - and still get a log file and JSON events."""
    name = "svc/api:dev@v1.2+x"
    project.recipe(f"""\
        target {lua_str(name)} {{ run = {{"printf", "hi"}} }}
        target "after" {{ deps = {{ {lua_str(name)} }}, run = {{"true"}} }}
        """)
    r = project.build()
    assert r.code == 0 and r.built == {name, "after"}, r
    logs = os.listdir(project.path(".dbx/logs"))
    assert "svc%2Fapi%3Adev%40v1.2%2Bx.log" in logs, logs
    g = project.run("graph", "--dot")
    assert g.code == 0 and f'"after" -> "{name}";' in g.out, g
    assert project.run(name).code == 0


def test_failure_message_with_newlines_stays_one_json_line(project):
    project.recipe(f"""\
        target "t" {{ outputs = {{ {lua_str(NASTY_OUT)} }}, run = {{"true"}} }}
        """)
    r = project.build()  # parse_events fails on any line that is not JSON
    assert r.code == 1, r
    assert r.error_of("t") == f"the command succeeded but did not produce output '{NASTY_OUT}'"
    no_pwned(project)
