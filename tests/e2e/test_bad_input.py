"""Bad input: each case names the place and the cause, with the right exit code.

Exit 2 for a usage or recipe error (nothing runs), 1 for a target that fails.
Every case checks the real message on stderr, and that messages from recipe
errors point at the user's files, never at dbx's own Lua or C frames.
"""

import pytest

OK = 'target "a" { run = {"true"} }\n'

# id: (files, args, exit code, words that must be on stderr)
CASES = {
    # ---- Lua itself ----
    "syntax-error": (
        {"build.lua": 'target "a" { run = {"true"} }\ntarget "b" { run = {"true"}\n'},
        [], 2, ["dbx: error: build.lua:3:", "'}' expected (to close '{' at line 2)"]),
    "syntax-error-in-included-file": (
        {"build.lua": OK + 'include "sub/build.lua"\n',
         "sub/build.lua": '\n\nlocal x = = 1\n'},
        [], 2, ["dbx: error: sub/build.lua:3:", "unexpected symbol near '='",
                "build.lua:2: in main chunk"]),
    "runtime-error-traceback": (
        {"build.lua": ('local function inner() error("boom") end\n'
                       'local function outer() inner() end\n'
                       'target "a" { run = {"true"} }\n'
                       'outer()\n')},
        [], 2, ["dbx: error: build.lua:1: boom", "recipe traceback:",
                "build.lua:1: in function 'inner'", "build.lua:2: in function 'outer'",
                "build.lua:4: in main chunk"]),
    "runtime-error-in-included-file": (
        {"build.lua": OK + 'include "lib/build.lua"\n',
         "lib/build.lua": '\nlocal function get(x)\n  return x.field\nend\nget(nil)\n'},
        [], 2, ["dbx: error: lib/build.lua:3: attempt to index a nil value (local 'x')",
                "lib/build.lua:3: in function 'get'", "lib/build.lua:5: in main chunk",
                "build.lua:2: in main chunk"]),
    "runtime-error-inside-a-field-value": (
        {"build.lua": 'local cfg = nil\ntarget "a" {\n  run = {"echo", cfg.flag},\n}\n'},
        [], 2, ["dbx: error: build.lua:3: attempt to index a nil value (local 'cfg')"]),
    "unknown-global-name": (
        {"build.lua": 'tagret "a" { run = {"true"} }\n'},
        [], 2, ["dbx: error: build.lua:1: unknown name 'tagret' (did you mean 'target'?)"]),
    "endless-loop": (
        {"build.lua": OK + 'local n = 0\nwhile true do n = n + 1 end\n'},
        [], 2, ["dbx: error: build.lua:3:", "an endless loop?"]),

    # ---- the shape of a target ----
    "wrong-field-type-list": (
        {"build.lua": OK + 'target "b" { run = {"true"}, deps = 5 }\n'},
        [], 2, ["dbx: error: build.lua:2: target 'b': field 'deps' must be a list of strings, "
                "got a number"]),
    "wrong-field-type-map": (
        {"build.lua": 'target "b" {\n  run = {"true"},\n  env = "X=1",\n}\n'},
        [], 2, ["dbx: error: build.lua:1: target 'b': field 'env' must be a table of NAME = value, "
                "got a string"]),
    "wrong-field-type-string": (
        {"build.lua": 'target "b" { run = {"true"}, desc = 5 }\n'},
        [], 2, ["dbx: error: build.lua:1: target 'b': field 'desc' must be a string, got a number"]),
    "wrong-field-type-group": (
        {"build.lua": OK + 'group "g" { deps = true }\n'},
        [], 2, ["dbx: error: build.lua:2: group 'g': field 'deps' must be a list of strings, "
                "got a boolean"]),
    "wrong-item-type": (
        {"build.lua": OK + 'target "b" { run = {"echo", {}} }\n'},
        [], 2, ["dbx: error: build.lua:2: target 'b': field 'run' item 2 must be a string, "
                "got an empty table"]),
    "list-with-a-named-key": (
        {"build.lua": 'target "b" { run = {"true"}, inputs = {src = "x.c"} }\n'},
        [], 2, ["dbx: error: build.lua:1: target 'b': field 'inputs' must be a list of strings, "
                "but has the key 'src'"]),
    "env-value-not-a-string": (
        {"build.lua": 'target "b" { run = {"true"}, env = {X = {1}} }\n'},
        [], 2, ["dbx: error: build.lua:1: target 'b': field 'env' value of X must be a string, "
                "got a table"]),
    "env-bad-name": (
        {"build.lua": 'target "b" { run = {"true"}, env = {["A-B"] = "1"} }\n'},
        [], 2, ["dbx: error: build.lua:1: target 'b': field 'env' has a bad name 'A-B'"]),
    "unknown-field-with-hint": (
        {"build.lua": OK + 'target "b" { run = {"true"}, inptus = {"x"} }\n'},
        [], 2, ["dbx: error: build.lua:2: target 'b': unknown field 'inptus'",
                "did you mean 'inputs'?", "(fields: deps, desc, env, inputs, outputs, pool, run)"]),
    "spec-not-a-table": (
        {"build.lua": 'target "a" "echo hi"\n'},
        [], 2, ["dbx: error: build.lua:1: target 'a': expected a table of fields { ... }, "
                "got a string"]),
    "group-member-not-a-string": (
        {"build.lua": OK + 'group "g" { "a", 42 }\n'},
        [], 2, ["dbx: error: build.lua:2: group 'g': member 2 must be a target name, got a number"]),
    "target-name-with-a-space": (
        {"build.lua": 'target "my target" { run = {"true"} }\n'},
        [], 2, ["dbx: error: build.lua:1:", "name 'my target' may hold only letters, digits"]),
    "target-name-not-a-string": (
        {"build.lua": 'target(7) { run = {"true"} }\n'},
        [], 2, ["dbx: error: build.lua:1:", "name must be a string, got a number"]),
    "outputs-without-run": (
        {"build.lua": 'target "a" { outputs = {"o.txt"} }\n'},
        [], 2, ["dbx: error: build.lua:1: target 'a': has outputs but no 'run' command"]),

    # ---- the graph ----
    "duplicate-target": (
        {"build.lua": OK + '\ntarget "a" { run = {"false"} }\n'},
        [], 2, ["dbx: error: build.lua:3: duplicate target 'a': first declared at build.lua:1"]),
    "duplicate-target-across-include": (
        {"build.lua": OK + 'include "sub/build.lua"\n', "sub/build.lua": '\n' + OK},
        [], 2, ["dbx: error: sub/build.lua:2: duplicate target 'a': first declared at build.lua:1"]),
    "dependency-cycle": (
        {"build.lua": ('target "a" { run = {"true"}, deps = {"b"} }\n'
                       'target "b" { run = {"true"}, deps = {"a"} }\n')},
        [], 2, ["dbx: error: dependency cycle: a -> b -> a"]),
    "dependency-cycle-of-three": (
        {"build.lua": ('target "a" { run = {"true"}, deps = {"c"} }\n'
                       'target "b" { run = {"true"}, deps = {"a"} }\n'
                       'target "c" { run = {"true"}, deps = {"b"} }\n')},
        [], 2, ["dbx: error: dependency cycle: ", "a -> c -> b -> a"]),
    "self-dependency": (
        {"build.lua": 'target "a" { run = {"true"}, deps = {"a"} }\n'},
        [], 2, ["dbx: error: dependency cycle: a -> a"]),
    "unknown-dependency": (
        {"build.lua": 'target "compile" { run = {"true"} }\n'
                      'target "link" { run = {"true"}, deps = {"compiel"} }\n'},
        [], 2, ["dbx: error: build.lua:2: target 'link' depends on unknown target 'compiel'",
                "did you mean 'compile'?"]),
    "two-targets-one-output": (
        {"build.lua": ('target "a" { run = {"touch", "o"}, outputs = {"o"} }\n'
                       'target "b" { run = {"touch", "o"}, outputs = {"o"} }\n')},
        [], 2, ["output 'o' of target", "is also an output of"]),

    # ---- files ----
    "missing-input-file": (
        {"build.lua": 'target "a" { run = {"true"}, inputs = {"src/main.c"} }\n'},
        [], 2, ["dbx: error: build.lua:1: target 'a': input file 'src/main.c' does not exist"]),
    "missing-input-in-included-folder": (
        {"build.lua": 'include "lib/build.lua"\n',
         "lib/build.lua": 'target "l" { run = {"true"}, inputs = {"gone.c"} }\n'},
        [], 2, ["dbx: error: lib/build.lua:1: target 'l': input file 'lib/gone.c' does not exist"]),
    "input-outside-the-project": (
        {"build.lua": 'target "a" { run = {"true"}, inputs = {"../x"} }\n'},
        [], 2, ["dbx: error: build.lua:1: target 'a': input '../x' is outside the project"]),
    "absolute-input-outside-the-project": (
        {"build.lua": 'target "a" { run = {"true"}, inputs = {"/etc/hostname"} }\n'},
        [], 2, ["target 'a': input '/etc/hostname' is outside the project"]),
    "output-outside-the-project": (
        {"build.lua": 'target "a" { run = {"true"}, outputs = {"../o"} }\n'},
        [], 2, ["dbx: error: build.lua:1: target 'a': output '../o' is outside the project"]),
    "folder-given-as-input": (
        {"build.lua": 'target "a" { run = {"true"}, inputs = {"src"} }\n',
         "src/main.c": "int main;\n"},
        [], 2, ["dbx: error: build.lua:1: target 'a': input 'src' is a folder", "'src/**'"]),
    "include-missing-file": (
        {"build.lua": OK + 'include "nothere/build.lua"\n'},
        [], 2, ["dbx: error: build.lua:2:", "nothere/build.lua: No such file or directory"]),
    "include-outside-the-project": (
        {"build.lua": 'include "../other/build.lua"\n'},
        [], 2, ["dbx: error: build.lua:1: include: path '../other/build.lua' is outside the project"]),
    "read-missing-file": (
        {"build.lua": 'local v = read("VERSION")\n'},
        [], 2, ["dbx: error: build.lua:1: read: VERSION: No such file or directory"]),

    # ---- the sandbox ----
    "os-execute-not-available": (
        {"build.lua": OK + 'os.execute("touch pwned")\n'},
        [], 2, ["dbx: error: build.lua:2: os.execute is not available to recipes"]),
    "io-popen-not-available": (
        {"build.lua": OK + 'local p = io.popen("touch pwned")\n'},
        [], 2, ["dbx: error: build.lua:2: io.popen is not available to recipes"]),
    "io-via-require-not-available": (
        {"build.lua": 'local io = require("io")\nio.open("pwned", "w")\n'},
        [], 2, ["dbx: error: build.lua:1: require: no module 'io' for recipes"]),
    "dofile-not-available": (
        {"build.lua": 'dofile("/etc/passwd")\n'},
        [], 2, ["dbx: error: build.lua:1: unknown name 'dofile'"]),
    "os-remove-not-available": (
        {"build.lua": 'os.remove("build.lua")\n'},
        [], 2, ["dbx: error: build.lua:1:", "os.remove is not available to recipes"]),

    # ---- the command line ----
    "unknown-target-with-hint": (
        {"build.lua": 'target "compile" { run = {"true"} }\ntarget "test" { run = {"true"} }\n'},
        ["build", "complie"], 2, ["dbx: error: unknown target 'complie' (did you mean 'compile'?)"]),
    "unknown-target-no-hint": (
        {"build.lua": OK},
        ["build", "zzzzzzzzzz"], 2, ["dbx: error: unknown target 'zzzzzzzzzz' (see 'dbx targets')"]),
    "explain-unknown-target": (
        {"build.lua": 'target "compile" { run = {"true"} }\n'},
        ["explain", "compil"], 2, ["unknown target 'compil' (did you mean 'compile'?)"]),
    "explain-without-target": (
        {"build.lua": OK}, ["explain"], 2, ["dbx: explain takes one target name"]),
    "unknown-option": (
        {"build.lua": OK}, ["--frobnicate"], 2,
        ["dbx: unknown option '--frobnicate'", "Run 'dbx --help' for usage."]),
    "bad-j-zero": (
        {"build.lua": OK}, ["-j", "0"], 2, ["dbx: -j needs a number from 1 to 4096, got '0'"]),
    "bad-j-word": (
        {"build.lua": OK}, ["-jmany"], 2, ["dbx: -j needs a number from 1 to 4096, got 'many'"]),
    "bad-j-negative": (
        {"build.lua": OK}, ["--jobs=-3"], 2, ["dbx: -j needs a number from 1 to 4096, got '-3'"]),
    "j-without-value": (
        {"build.lua": OK}, ["-j"], 2, ["dbx: option -j needs a value"]),
    "bad-progress": (
        {"build.lua": OK}, ["--progress=fancy"], 2,
        ["dbx: --progress must be auto, tty, plain or json, not 'fancy'"]),
    "unknown-command-with-hint": (
        {"build.lua": OK}, ["biuld"], 2, ["dbx: unknown command 'biuld' (did you mean 'build'?)"]),
    "help-for-unknown-command": (
        {"build.lua": OK}, ["help", "explian"], 2, ["dbx: no command 'explian'"]),
    # ---- huge or runaway recipes ----
    "runaway-recursion": (
        {"build.lua": OK + 'local function f(n) return 1 + f(n + 1) end\nf(0)\n'},
        [], 2, ["dbx: error: build.lua:2: stack overflow (a function that calls itself without end?)",
                "more levels)", "build.lua:3: in main chunk"]),
    "recursion-through-a-metatable": (
        {"build.lua": OK + 'local t = setmetatable({}, { __index = function(t, k) return t[k] end })\n'
                           'local x = t.anything\n'},
        [], 2, ["dbx: error: build.lua:2: C stack overflow (a function that calls itself without end?)"]),
    "huge-string": (
        {"build.lua": OK + 'local s = string.rep("x", 2^31)\n'},
        [], 2, ["dbx: error: build.lua:2: resulting string too large"]),
    "memory-hog": (
        {"build.lua": OK + 'local t = {}\nfor i = 1, 1e9 do t[i] = i end\n'},
        [], 2, ["dbx: error: build.lua: the recipe used more than 1024 MiB of memory"]),

    # ---- build arguments, push, gpus, secrets, release ----
    "build-arg-nobody-declares": (
        {"build.lua": OK}, ["--build-arg", "VERSION=1"], 2,
        ["dbx: error: --build-arg VERSION: no target declares that build argument"]),
    "build-arg-bad-name": (
        {"build.lua": OK}, ["--build-arg", "1X=2"], 2,
        ["dbx: --build-arg needs NAME=VALUE with NAME of letters, digits and _, got '1X=2'"]),
    "build-arg-from-an-unset-variable": (
        {"build.lua": OK}, ["--build-arg", "DBX_TEST_SURELY_UNSET"], 2,
        ["--build-arg DBX_TEST_SURELY_UNSET: no value given and none in the environment"]),
    "build-arg-required-and-missing": (
        {"build.lua": 'image "rel" { dockerfile = "FROM scratch\\n", args = { "VERSION" } }\n'}, ["rel"], 2,
        ["dbx: error: rel needs the build argument VERSION, and it has no value: add --build-arg VERSION=VALUE"]),
    "image-args-bad-name": (
        {"build.lua": 'image "rel" { dockerfile = "FROM scratch\\n", args = { "1BAD" } }\n'}, [], 2,
        ["dbx: error: build.lua:1: image 'rel': args: '1BAD' must be NAME or NAME=default"]),
    "image-secret-without-a-file": (
        {"build.lua": 'image "s" { dockerfile = "FROM scratch\\n", secrets = { token = "" } }\n'}, [], 2,
        ["dbx: error: build.lua:1: image 's': secrets: 'token' must be ID = \"path of the file\""]),
    "push-without-a-registry": (
        {"build.lua": OK}, ["push", "a"], 2, ["dbx: push: --to needs a registry: HOST[:PORT][/PATH]"]),
    "push-of-a-command-target": (
        {"build.lua": OK}, ["push", "a", "--to", "127.0.0.1:5000"], 2,
        ["dbx: push: a is a cmd target, not an image"]),
    "push-with-a-scheme": (
        {"build.lua": OK}, ["push", "a", "--to", "http://127.0.0.1:5000"], 2, ["without a scheme"]),
    "gpus-bad-value": (
        {"build.lua": OK}, ["dev", "--gpus=lots"], 2, ["dbx: --gpus must be all, none or a count, not 'lots'"]),
    "release-unknown-field": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "x" { cmd = { "x" }, release = { pakage = "x" } }\n'}, [], 2,
        ["dbx: error: build.lua:2: python.service 'x': release: unknown field 'pakage' — did you mean 'package'?"]),
    "service-gpus-bad-value": (
        {"build.lua": 'local python = require "dbx.python"\npython.service "x" { cmd = { "x" }, gpus = "many" }\n'},
        [], 2, ["python.service 'x': gpus must be \"all\" or a count"]),
    "service-package-needs-uv": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "x" { cmd = { "x" }, manager = "pip", package = "services/x" }\n',
         "requirements.txt": "flask==3.0.0\n"}, [], 2,
        ["python.service 'x': package (a workspace member) needs a manager with workspaces (uv), not pip"]),
    "malformed-pyproject-read-by-a-service": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "x" { cmd = { "x" }, release = {} }\n',
         "pyproject.toml": "[project\nname = 'x'\n", "uv.lock": "version = 1\n"}, [], 2,
        ["pyproject.toml: line 1: '[project' is not a table header like [project]"]),
    # ---- a python.service's command, checked against the project's tree ----
    "service-runs-a-package-without-main": (
        {"build.lua": 'local python = require "dbx.python"\n\n'
                      'python.service "web" { cmd = { "python", "-m", "app" } }\n',
         "requirements.txt": "flask==3.1.0\n", "app/__init__.py": "", "app/views.py": ""}, [], 2,
        ["dbx: error: build.lua:3: python.service 'web': cmd `python -m app` runs package app, which has no "
         "__main__.py", "uvicorn app.main:app", "add app/__main__.py"]),
    "service-names-a-module-the-tree-lacks": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { cmd = { "uvicorn", "app.mian:app", "--port", "8000" } }\n',
         "requirements.txt": "uvicorn==0.34.2\n", "app/__init__.py": "", "app/main.py": ""}, [], 2,
        ["dbx: error: build.lua:2: python.service 'web': cmd `uvicorn app.mian:app --port 8000` imports app.mian, "
         "but the project has no app/mian.py or app/mian/"]),
    "service-gunicorn-module-the-tree-lacks": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { cmd = { "gunicorn", "mysite.wgsi", "--bind", "0.0.0.0:8000" } }\n',
         "requirements.txt": "django==5.1\ngunicorn==23.0.0\n", "mysite/wsgi.py": "", "manage.py": ""}, [], 2,
        ["python.service 'web': cmd `gunicorn mysite.wgsi --bind 0.0.0.0:8000` imports mysite.wgsi, "
         "but the project has no mysite/wgsi.py or mysite/wgsi/"]),
    "service-member-file-the-member-lacks": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { package = "backend", cmd = { "fastapi", "run", "--workers", "4", '
                      '"app/nope.py" } }\n',
         "pyproject.toml": '[project]\nname = "root"\nversion = "1"\n[tool.uv.workspace]\nmembers = ["backend"]\n',
         "uv.lock": "version = 1\n", "backend/pyproject.toml": '[project]\nname = "backend"\nversion = "1"\n',
         "backend/app/main.py": ""}, [], 2,
        ["python.service 'web': cmd `fastapi run --workers 4 app/nope.py` runs app/nope.py, which is not in the "
         "project"]),
    "service-runs-a-file-the-tree-lacks": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { cmd = { "python", "manage.py", "runserver" } }\n',
         "requirements.txt": "django==5.1\n", "mysite/settings.py": ""}, [], 2,
        ["dbx: error: build.lua:2: python.service 'web': cmd `python manage.py runserver` runs manage.py, "
         "which is not in the project"]),
    "service-names-neither-tree-nor-dependency": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { kind = "app", cmd = { "gunicorn", "wsgi:app" } }\n',
         "requirements.txt": "gunicorn==23.0.0\n", "server.py": ""}, [], 2,
        ["python.service 'web': cmd `gunicorn wsgi:app` names wsgi, which is neither in the project's tree nor "
         "one of its dependencies"]),
    "service-kind-package-that-cannot-be-installed": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { kind = "package", cmd = { "web" } }\n',
         "pyproject.toml": '[tool.poetry]\npackage-mode = false\n', "poetry.lock": "\n"}, [], 2,
        ["python.service 'web': kind = \"package\", but [tool.poetry] package-mode = false"]),
    "service-kind-unknown": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { kind = "application", cmd = { "python", "x.py" } }\n',
         "requirements.txt": "\n", "x.py": ""}, [], 2,
        ["build.lua:2: python.service 'web': kind must be \"app\""]),
    "service-port-out-of-range": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { port = 70000, cmd = { "python", "x.py" } }\n',
         "requirements.txt": "\n", "x.py": ""}, [], 2,
        ["build.lua:2: python.service 'web': port must be a whole number from 1 to 65535"]),
    "service-uid-not-whole": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { uid = 1.5, cmd = { "python", "x.py" } }\n',
         "requirements.txt": "\n", "x.py": ""}, [], 2,
        ["build.lua:2: python.service 'web': uid must be a whole number, got 1.5"]),
    "service-env-value-with-a-line-break": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { env = { KEY = "a\\nb" }, cmd = { "python", "x.py" } }\n',
         "requirements.txt": "\n", "x.py": ""}, [], 2,
        ["build.lua:2: python.service 'web': env: KEY holds a line break"]),
    "service-uid-negative": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { uid = -1, cmd = { "python", "x.py" } }\n',
         "requirements.txt": "\n", "x.py": ""}, [], 2,
        ["build.lua:2: python.service 'web': uid must be from 0 to 2147483647, got -1"]),
    "service-expose-not-a-port": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { expose = { "81/udp; x" }, cmd = { "python", "x.py" } }\n',
         "requirements.txt": "\n", "x.py": ""}, [], 2,
        ["build.lua:2: python.service 'web': expose: '81/udp; x' must be a port"]),
    "service-dirs-climbing-out": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { dirs = { "/tmp/../.." }, cmd = { "python", "x.py" } }\n',
         "requirements.txt": "\n", "x.py": ""}, [], 2,
        ["build.lua:2: python.service 'web': '/tmp/../..' must be an absolute path of plain characters, without '..'"]),
    "service-base-with-a-line-break": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { base = "python:3.11\\nRUN x", cmd = { "python", "x.py" } }\n',
         "requirements.txt": "\n", "x.py": ""}, [], 2,
        ["build.lua:2: python.service 'web': base must be an image reference such as python:3.11-slim, got 'python:3.11?RUN x'"]),
    "service-env-file-outside": (
        {"build.lua": 'local python = require "dbx.python"\n'
                      'python.service "web" { env_file = "../secrets.env", cmd = { "python", "x.py" } }\n',
         "requirements.txt": "\n", "x.py": ""}, [], 2,
        ["build.lua:2: python.service 'web': env_file must be a plain path inside the project"]),
    "malformed-pyproject-for-init": (
        {"pyproject.toml": "[project\nname = 'x'\n"}, ["init"], 2,
        ["pyproject.toml: line 1: '[project' is not a table header like [project]"]),

    "missing-build-lua": (
        {"README": "no recipe here\n"}, [], 2,
        ["dbx: error: no build.lua in ", "use -C DIR or -f FILE"]),
    "missing-recipe-given-with-f": (
        {"build.lua": OK}, ["-f", "other.lua"], 2, ["dbx: error: no other.lua in "]),
    "missing-folder-given-with-C": (
        {"build.lua": OK}, ["-C", "no/such/dir"], 2,
        ["dbx: error: cannot enter no/such/dir: No such file or directory"]),
}

SLOW_CASES = {"endless-loop", "memory-hog"}


def write_files(project, files):
    for rel, text in files.items():
        project.write(rel, text, dedent=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(project, case):
    files, args, code, words = CASES[case]
    write_files(project, files)
    r = project.run("--progress=plain", *args, timeout=120 if case in SLOW_CASES else 30)
    assert r.code == code, r
    for w in words:
        assert w in r.err, f"{w!r} not in stderr:\n{r.err}"
    # recipe errors point at recipe files only: never dbx's own Lua, never C frames
    assert "lua/dbx/" not in r.err, r.err
    assert "[C]" not in r.err and "stack traceback" not in r.err, r.err
    # nothing ran: no plan, no command output, no file a sandbox escape would make
    assert "plan:" not in r.out and "start " not in r.out, r
    assert not project.exists("pwned")
    assert project.spawned() == []
    # and the message comes once, not buried in a flood
    assert r.err.count("error") <= 2, r.err


def test_at_least_forty_bad_input_cases():
    assert len(CASES) >= 40


def test_json_mode_keeps_errors_off_stdout(project):
    """A CI script reading events must not see recipe errors as broken JSON."""
    project.write("build.lua", 'target "a" { run = {"true"}, deps = {"b"} }\n', dedent=False)
    r = project.build()
    assert r.code == 2, r
    assert r.events == []
    assert "depends on unknown target 'b'" in r.err


# ---- `run` given as a string ----------------------------------------------------

def test_run_as_a_string_is_refused_with_a_hint(project):
    """run = "..." would need a shell to mean anything: dbx refuses it at recipe time,
    naming the line, and shows how to write the argv (nothing runs)."""
    project.write("build.lua", 'target "a" { run = "touch pwned; echo hi" }\n', dedent=False)
    r = project.run()
    assert r.code == 2, r
    assert "dbx: error: build.lua:1: target 'a': field 'run' must be a list of strings" in r.err, r
    assert 'run = { "sh", "-c", "touch pwned; echo hi" }' in r.err, r
    assert not project.exists("pwned")
    assert not project.exists("pwned;")


def test_recipe_error_after_a_good_build_keeps_the_store(project):
    project.write("build.lua", OK, dedent=False)
    assert project.build().built == {"a"}
    project.write("build.lua", OK + "this is not lua\n", dedent=False)
    r = project.run()
    assert r.code == 2 and "build.lua:2:" in r.err, r
    project.write("build.lua", OK, dedent=False)
    assert project.build().cached == {"a"}


@pytest.mark.parametrize("config, words", [
    ('{"auths":', ["the docker config", "is not a JSON object"]),
    ('{"credsStore":"dbx-surely-missing"}', ["docker-credential-dbx-surely-missing is not on PATH"]),
])
def test_push_with_a_docker_config_it_cannot_use_stops_before_building(project, config, words):
    write_files(project, {"build.lua": 'image "app" { dockerfile = "FROM scratch\\n" }\n',
                          "dockercfg/config.json": config})
    r = project.run("push", "app", "--to", "127.0.0.1:5000", env={"DOCKER_CONFIG": str(project.path("dockercfg"))})
    assert r.code == 2, r
    for w in words:
        assert w in r.err, r
    assert "plan:" not in r.out and "start " not in r.out, r
