"""Projects shaped like real public ones, untouched: `dbx init` writes the
recipe, `dbx build prod` builds it, the container answers real HTTP requests
from the inside out; then a source edit rebuilds only the source layers and an
env change only the final layer. The projects live in tests/e2e/projects:

  bookshelf  a uv application (no build system): app/ run by uvicorn, alembic
             migrations run against a real PostgreSQL, templates, static files,
             a compose file with env_file and a PostgreSQL service
  pantry     a Poetry application (package-mode = false) served by gunicorn
             from a Procfile, with an uploads/ folder it writes to
  notes      a pdm application whose lock has no environment markers (pdm
             export refuses it) and whose pyproject.toml has no name
  guestbook  requirements.txt alone, one requirement unpinned, a views/ folder
             without __init__.py, served by gunicorn from a Procfile
  acme       a uv workspace: init run in the member packages/api, whose lock
             is at the workspace root; served by its console script
  greeter    its own Dockerfile (EXPOSE 9000, CMD uvicorn, HEALTHCHECK, ENV)
             and docker-compose.yml: init takes the command, port, health
             path and env from them
"""

import json
import re
import shutil
import signal
import urllib.request

import pytest

from dbxtest import REPO
from test_images_bad import proj  # noqa: F401  (fixture)
from test_lablink import engine  # noqa: F401  (fixture)
from engine import wait_http
from servers import Postgres

PROJECTS = REPO / "tests/e2e/projects"

# name: (folder init runs in, folder the recipe lands in, service, port, path, what the answer holds,
#        a source file to edit, the text to replace in it, what replaces it, the path showing the edit)
CASES = {
    "bookshelf": (".", ".", "bookshelf", 8000, "/", "Welcome to the bookshelf",
                  "app/templates/index.html", "to the bookshelf", "to the new shelf", "/"),
    "pantry": (".", ".", "pantry", 8080, "/", "<li>flour</li>",
               "pantry/templates/index.html", "<ul>", "<ul class=\"new\">", "/"),
    "notes": (".", ".", "notes", 8000, "/notes", "buy milk", "main.py", "buy milk", "buy bread", "/notes"),
    "guestbook": (".", ".", "guestbook", 5000, "/", "first!", "views/pages.py", "first!", "second!", "/"),
    "acme": ("packages/api", ".", "acme-api", 8100, "/hello/ada", "hello, ada",
             "packages/shared/src/shared/__init__.py", "hello,", "greetings,", "/hello/ada"),
    "greeter": (".", ".", "greeter", 9000, "/", "hello, world", "main.py", "'world'", "'planet'", "/"),
}


def get(port, path):
    """The body at path once the server answers (it may still be starting)."""
    return wait_http(f"http://127.0.0.1:{port}{path}", timeout=90)


def post(port, path):
    """One POST, no retry: the server already answers."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode()


def served(engine, image, port, path, want, env=None):  # noqa: F811
    cid = engine.run_detached(image, env=env)
    try:
        body = get(port, path)
        assert want in body, body
        return cid, body
    except BaseException:
        logs = engine.docker("logs", cid, check=False)
        engine.remove(cid)
        raise AssertionError(f"{image}: {logs.stdout}{logs.stderr}")


def init_and_build(proj, name):  # noqa: F811
    init_in, recipe_at, service, port = CASES[name][:4]
    shutil.copytree(PROJECTS / name, proj.path(name))
    r = proj.run("init", f"{name}/{init_in}")
    assert r.code == 0, r
    recipe = proj.read(f"{name}/{recipe_at}/build.lua")
    assert f'python.service "{service}"' in recipe, recipe
    assert re.search(rf"^\s*port = {port},", recipe, re.M), recipe
    r = proj.build("-C", f"{name}/{recipe_at}", "prod", timeout=1200)
    assert r.code == 0, r
    return recipe


@pytest.mark.parametrize("name", sorted(CASES))
def test_init_build_serve_edit(proj, engine, name):  # noqa: F811
    init_in, recipe_at, service, port, path, want, edit, old, new, edited_path = CASES[name]
    recipe = init_and_build(proj, name)
    at = f"{name}/{recipe_at}"
    edit = f"{name}/{edit}"
    image = f"{service}:prod"
    cid, _ = served(engine, image, port, path, want)
    engine.remove(cid)

    # a source edit: only the source layer and the final one are built again
    text = proj.read(edit)
    assert old in text, text
    proj.write(edit, text.replace(old, new), dedent=False)
    r = proj.build("-C", at, f"{service}/prod", timeout=600)
    assert r.code == 0, r
    st = r.status
    assert st[f"{service}/prod/source"] == "built" and st[f"{service}/prod"] == "built", st
    assert st[f"{service}/prod/deps"] == "cached" and st[f"{service}/base"] == "cached", st
    cid, body = served(engine, image, port, edited_path, new.strip("'<>\" ").split()[0])
    engine.remove(cid)

    # an env change in the recipe: only the final layer
    env_line = re.search(r"^(\s*)env = \{", recipe, re.M)
    if env_line:
        marked = recipe[:env_line.end()] + ' DBX_MARK = "2",' + recipe[env_line.end():]
    else:
        marked = recipe.replace(f'python.service "{service}" {{',
                                f'python.service "{service}" {{\n  env = {{ DBX_MARK = "2" }},', 1)
    proj.write(f"{at}/build.lua", marked, dedent=False)
    r = proj.build("-C", at, f"{service}/prod", timeout=600)
    assert r.code == 0, r
    st = r.status
    assert st[f"{service}/prod"] == "built", st
    assert all(v == "cached" for k, v in st.items() if k != f"{service}/prod"), st
    out = engine.docker("run", "--rm", "--network", "host", "--entrypoint", "sh", image, "-c", "echo $DBX_MARK")
    assert out.stdout.strip() == "2", out


def inside(engine, image, script):  # noqa: F811
    r = engine.docker("run", "--rm", "--network", "host", "--entrypoint", "sh", image, "-c", script, check=False)
    return r.stdout.strip()


def test_bookshelf_migrates_a_real_postgresql_then_serves_its_rows(proj, engine):  # noqa: F811
    """alembic upgrade head from the prod image against PostgreSQL on
    127.0.0.1; the app then reads and writes rows; the prod image holds the
    application tree (alembic.ini, migrations, templates, static) read-only,
    no tests, no uv, no .env."""
    init_and_build(proj, "bookshelf")
    db = Postgres("bookshelf")
    try:
        env = {"DATABASE_URL": db.url}
        r = engine.docker("run", "--rm", "--network", "host", "-e", f"DATABASE_URL={db.url}",
                          "bookshelf:prod", "alembic", "upgrade", "head", check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert db.query("select title from book") == "Dune\n"
        cid, body = served(engine, "bookshelf:prod", 8000, "/api/v1/books", "Dune", env=env)
        try:
            assert json.loads(post(8000, "/api/v1/books/Emma")) == {"added": "Emma"}
            assert json.loads(get(8000, "/api/v1/books")) == ["Dune", "Emma"]
            assert "font-family" in get(8000, "/static/style.css")
        finally:
            engine.remove(cid)
    finally:
        db.close()
    ls = inside(engine, "bookshelf:prod", "cd /app && ls -A | sort | tr '\\n' ' '")
    assert ls.split() == sorted([".venv", "alembic", "alembic.ini", "app", "compose.yaml", "pyproject.toml",
                                 "scripts", "start.sh", "uv.lock", ".dockerignore"]), ls
    assert inside(engine, "bookshelf:prod", "test -e /app/tests || echo gone") == "gone"
    assert inside(engine, "bookshelf:prod", "command -v uv || echo none") == "none"
    assert inside(engine, "bookshelf:prod", "touch /app/app/main.py 2>/dev/null && echo writable || echo read-only") \
        == "read-only"


def test_pantry_writes_to_its_upload_folder(proj, engine):  # noqa: F811
    """The folder the app writes to is writable for the service's user while
    the tree around it stays read-only."""
    recipe = init_and_build(proj, "pantry")
    assert '"/app/uploads"' in recipe, recipe
    cid, _ = served(engine, "pantry:prod", 8080, "/healthz", "ok")
    try:
        req = urllib.request.Request("http://127.0.0.1:8080/uploads/jam.txt", data=b"apricot", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read()) == {"saved": "jam.txt"}
        assert engine.exec(cid, "cat /app/uploads/jam.txt").stdout == "apricot"
        assert "read-only" in engine.exec(cid, "touch /app/wsgi.py 2>/dev/null && echo writable || echo read-only").stdout
    finally:
        engine.remove(cid)


def test_dev_syncs_an_edit_of_the_module_the_command_names(proj, engine):  # noqa: F811
    """The recipe checks that gunicorn's app:app exists without reading it,
    so saving app.py in `dbx dev --watch` is a source sync and an app
    restart (the same container), not a recipe reload and an image build."""
    shutil.copytree(PROJECTS / "guestbook", proj.path("guestbook"))
    assert proj.run("init", "guestbook").code == 0
    run = proj.spawn("-C", "guestbook", "dev", "--watch")
    try:
        ready = run.wait_event(lambda e: e["event"] == "ready", timeout=900)
        assert "first!" in get(5000, "/")
        text = proj.read("guestbook/app.py")
        proj.write("guestbook/app.py", text + "\napp.config['EDITED'] = True\n", dedent=False)
        ev = run.wait_event(lambda e: e["event"] == "reload", timeout=120)
        assert "error" not in ev, ev
        assert ev["container"] == ready["container_id"][:12], ev  # no new container, no image build
        assert "build.lua" not in ev["reason"], ev
        assert "first!" in get(5000, "/")
    finally:
        run.proc.send_signal(signal.SIGINT)
        done = run.finish(timeout=60)
    assert done.code == 130, done
