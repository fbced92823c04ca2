"""Security on the real engine: build secrets reach the build through BuildKit
and nothing else (every layer of the saved image searched), and a service that
asks to run as root does, with a warning at every build."""

import hashlib
import io
import json
import tarfile

import pytest

from test_images_bad import proj, service  # noqa: F401  (proj is a fixture)
from test_lablink import engine  # noqa: F401  (the module fixture)

SECRET = "s3cr3t-7f1d2c9a-never-in-a-layer"
DIGEST = hashlib.sha256((SECRET + "\n").encode()).hexdigest()  # the build checks this, never the value


def saved_layers(engine, ref, tmp_path):
    """Every file of every layer of ref, and its config, as (name, bytes)."""
    tar = tmp_path / "image.tar"
    engine.docker("save", "-o", str(tar), ref)
    out = []
    with tarfile.open(tar) as outer:
        for m in outer.getmembers():
            if not m.isfile():
                continue
            data = outer.extractfile(m).read()
            out.append((m.name, data))
            if m.name.endswith("layer.tar"):
                with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                    for lm in layer.getmembers():
                        if lm.isfile():
                            out.append((f"{m.name}:{lm.name}", layer.extractfile(lm).read()))
    return out


def secret_recipe(proj, src="token.txt"):
    proj.recipe(f'''\
        image "withsecret" {{
          tags = {{ "dbx-test/secret:latest" }},
          secrets = {{ token = "{src}" }},
          dockerfile = [[
        FROM python:3.11-slim
        RUN --mount=type=secret,id=token test "$(sha256sum < /run/secrets/token | cut -c1-64)" = "{DIGEST}" && echo used > /proof
        ]],
        }}
        ''')


def test_a_secret_is_usable_in_the_build_and_absent_from_every_layer(proj, engine, tmp_path):  # noqa: F811
    proj.write("token.txt", SECRET + "\n")
    secret_recipe(proj)
    r = proj.build()
    assert r.code == 0, r
    try:
        proof = engine.docker("run", "--rm", "--pull", "never", "dbx-test/secret:latest", "cat", "/proof")
        assert proof.stdout.strip() == "used", "the build read the secret"
        assert engine.docker("run", "--rm", "--pull", "never", "dbx-test/secret:latest", "sh", "-c",
                             "ls /run/secrets 2>/dev/null | wc -l").stdout.strip() == "0"
        files = saved_layers(engine, "dbx-test/secret:latest", tmp_path)
        assert any(n.endswith("layer.tar") for n, _ in files), "the save holds layers"
        leaks = [n for n, data in files if SECRET.encode() in data]
        assert leaks == [], f"the secret is in {leaks}"
        history = engine.docker("history", "--no-trunc", "dbx-test/secret:latest").stdout
        assert SECRET not in history
        # nor in what dbx keeps: store, logs, contexts, cached graph
        for p in proj.path(".dbx").rglob("*"):
            if p.is_file():
                assert SECRET.encode() not in p.read_bytes(), p
        # the key never sees the content: a new value does not rebuild (and is never stored)
        proj.write("token.txt", "another value\n")
        again = proj.build()
        assert again.code == 0 and not again.built, again
    finally:
        engine.docker("rmi", "-f", "dbx-test/secret:latest", check=False)


def test_a_missing_secret_file_fails_naming_it(proj):
    secret_recipe(proj, src="nowhere/token.txt")
    r = proj.build()
    assert r.code == 1, r
    err = r.error_of("withsecret")
    assert "secret token: cannot read" in err and "nowhere/token.txt" in err, err


def test_bad_secret_declarations_are_recipe_errors(proj):
    proj.recipe('image "x" { dockerfile = "FROM scratch\\n", secrets = { ["a b"] = "f" } }\n')
    r = proj.run("build")
    assert r.code == 2 and "field 'secrets' has a bad name 'a b'" in r.err, r


def test_service_secrets_are_mounted_into_the_install_steps_only(proj):
    service(proj, 'secrets = { netrc = { src = "~/.netrc", target = "/root/.netrc" } },')
    r = proj.run("gen", "svc", "-o", "out")
    assert r.code == 0, r
    df = proj.read("out/Dockerfile")
    mount = "--mount=type=secret,id=netrc,target=/root/.netrc"
    runs = [line for line in df.splitlines() if line.startswith("RUN")]
    installs = [line for line in runs if "--mount=type=cache" in line]
    assert installs and all(mount in line for line in installs), df
    assert "--secret id=netrc,src=~/.netrc" in df
    assert "COPY" not in "".join(line for line in df.splitlines() if "netrc" in line and "--mount" not in line
                                 and not line.startswith("#"))


def test_root_is_allowed_when_asked_for_and_warned_about(proj, engine):  # noqa: F811
    service(proj, 'user = "root", tags = { prod = "dbx-test/root:prod", dev = "dbx-test/root:dev" },')
    r = proj.build("svc/prod", timeout=900)
    try:
        assert r.code == 0, r
        assert "warning: svc/prod runs as root" in r.err, r.err
        assert engine.docker("run", "--rm", "--pull", "never", "--entrypoint", "id", "dbx-test/root:prod",
                             "-u").stdout.strip() == "0"
        cached = proj.build("svc/prod")
        assert "warning: svc/prod runs as root" in cached.err, "said at every build, cached or not"
    finally:
        engine.docker("rmi", "-f", "dbx-test/root:prod", check=False)


def test_services_run_as_a_non_root_user_by_default(proj, engine):  # noqa: F811
    service(proj, 'tags = { prod = "dbx-test/user:prod", dev = "dbx-test/user:dev" },')
    r = proj.build("svc/prod", timeout=900)
    try:
        assert r.code == 0, r
        assert "warning" not in r.err
        cfg = json.loads(engine.docker("image", "inspect", "dbx-test/user:prod").stdout)[0]["Config"]
        assert cfg["User"] == "app"
        uid = engine.docker("run", "--rm", "--pull", "never", "--entrypoint", "id", "dbx-test/user:prod", "-u")
        assert uid.stdout.strip() == "1000"
    finally:
        engine.docker("rmi", "-f", "dbx-test/user:prod", check=False)


@pytest.mark.parametrize("escape", [
    'os.execute("touch pwned")',
    'io.popen("touch pwned")',
    'io.open("pwned", "w")',
    'require("os").execute("touch pwned")',
    'package.loadlib("libc.so.6", "system")',
    'loadfile("/etc/passwd")',
    'dofile("/etc/passwd")',
    'require("../../etc/passwd")',
    'load(string.dump(function() end))',
    'debug.sethook(function() end, "l")',
])
def test_recipes_cannot_escape_their_sandbox(proj, escape):
    proj.recipe(f'{escape}\ntarget "t" {{ run = {{ "true" }} }}\n')
    r = proj.run("build")
    assert r.code == 2, r
    assert not proj.exists("pwned")
    assert "build.lua:1" in r.err, r.err


def test_docker_is_never_given_a_shell_string(proj, engine, tmp_path):  # noqa: F811
    """The build's argv, recorded by a wrapper, holds recipe values as single arguments."""
    log = tmp_path / "argv"
    wrapper = tmp_path / "docker"
    wrapper.write_text(f'#!/usr/bin/env python3\nimport json, os, sys\n'
                       f'open("{log}", "a").write(json.dumps(sys.argv[1:]) + "\\n")\n'
                       f'os.execv("/usr/bin/docker", ["docker"] + sys.argv[1:])\n')
    wrapper.chmod(0o755)
    tag = "dbx-test/quoting:a"
    proj.recipe(f'''\
        image "q" {{ tags = {{ "{tag}" }}, build_args = {{ V = "$(touch pwned); `id` 'q' \\"d\\"\\nnl" }},
                    dockerfile = "FROM python:3.11-slim\\nARG V\\nRUN test -n \\"$V\\"\\n" }}
        ''')
    r = proj.build(env={"DBX_DOCKER": str(wrapper)})
    try:
        assert r.code == 0, r
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        build = [c for c in calls if "build" in c][0]
        assert "V=$(touch pwned); `id` 'q' \"d\"\nnl" in build
        assert not proj.exists("pwned")
    finally:
        engine.docker("rmi", "-f", tag, check=False)
