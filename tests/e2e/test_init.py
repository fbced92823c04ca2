"""`dbx init`: a first build.lua for an existing project, which builds an
image whose container starts and turns healthy; and, on projects shaped like
real ones, the recipe it writes: where each field was read from."""

import json
import re
import shutil
import time

import pytest

from dbxtest import REPO
from test_images_bad import proj  # noqa: F401  (fixture)
from test_lablink import engine  # noqa: F401  (fixture)


def wait_healthy(engine, cid, timeout=90):  # noqa: F811
    end = time.monotonic() + timeout
    state = {}
    while time.monotonic() < end:
        state = json.loads(engine.docker("inspect", cid).stdout)[0]["State"]
        if state.get("Health", {}).get("Status") == "healthy":
            return
        if not state["Running"]:
            break
        time.sleep(1)
    logs = engine.docker("logs", cid, check=False)
    raise AssertionError(f"container did not turn healthy: {state}\n{logs.stdout}{logs.stderr}")


def test_init_on_lablink_builds_a_healthy_image(proj, engine):  # noqa: F811
    shutil.copytree(REPO / "examples/lablink/allocator", proj.path("app"),
                    ignore=shutil.ignore_patterns("Dockerfile*", "start.sh", ".dbx"))
    r = proj.run("init", "app")
    assert r.code == 0, r
    text = proj.read("app/build.lua")
    assert 'python.service "lablink-allocator"' in text and 'manager = "uv"' in text, text
    assert 'cmd = { "lablink-allocator" }' in text and "port = 5000" in text and 'health = "/health"' in text, text
    r = proj.run("-C", "app", "build", "prod", timeout=900)
    assert r.code == 0, r
    cid = engine.run_detached("lablink-allocator:prod")
    try:
        wait_healthy(engine, cid)
    finally:
        engine.remove(cid)


def test_init_refuses_to_overwrite(project):
    proj = project
    proj.write("app/pyproject.toml", '[project]\nname = "x"\n')
    proj.write("app/build.lua", "-- mine\n")
    r = proj.run("init", "app")
    assert r.code == 2 and "build.lua exists; dbx init does not overwrite it" in r.err, r
    assert proj.read("app/build.lua") == "-- mine\n"


def test_init_without_a_python_project(project):
    proj = project
    proj.path("empty").mkdir()
    r = proj.run("init", "empty")
    assert r.code == 2, r
    assert "empty: no Python project here: there is no pyproject.toml or requirements.txt" in r.err, r
    assert not proj.exists("empty/build.lua")


def test_init_without_a_lock_file(project):
    proj = project
    proj.write("app/pyproject.toml", '[project]\nname = "x"\nversion = "1"\n')
    r = proj.run("init", "app")
    assert r.code == 2 and "no lock file here" in r.err, r


@pytest.mark.parametrize("example, subdir, recipe_dir, image", [
    ("strain-seer", ".", "ex", "strain-seer:prod"),
    ("postura", "postura", "ex/postura", "postura:prod"),
    # a monorepo service: the recipe goes where its local packages are inside
    ("huleedu", "services/identity_service", "ex", "identity-service:prod"),
])
def test_init_on_each_example_builds_a_healthy_image(proj, engine, example, subdir, recipe_dir, image):  # noqa: F811
    """The example's project without its build.lua: `dbx init` writes one that
    builds, and the container (on the ports its code defaults to) turns healthy."""
    shutil.copytree(REPO / "examples" / example, proj.path("ex"),
                    ignore=shutil.ignore_patterns("build.lua", ".dbx", "Dockerfile*", "start.sh"))
    r = proj.run("init", f"ex/{subdir}")
    assert r.code == 0, r
    assert proj.exists(f"{recipe_dir}/build.lua"), r
    r = proj.run("-C", recipe_dir, "build", "prod", timeout=1800)
    assert r.code == 0, r
    cid = engine.run_detached(image)
    try:
        wait_healthy(engine, cid, timeout=180)
    finally:
        engine.remove(cid)


# ---- what init reads: text-level checks on projects shaped like real ones ----

def init(project, folder=".", code=0):
    r = project.run("init", folder)
    assert r.code == code, r
    return r


def service(text, name):
    """The body of python.service "name" { ... } in a recipe text."""
    m = re.search(r'python\.service "%s" \{\n(.*?)\n\}' % re.escape(name), text, re.S)
    assert m, f"no service {name}:\n{text}"
    return m.group(1)


def has(body, comment, field):
    """field is in body, right under a comment line containing comment."""
    lines = body.split("\n")
    for i, line in enumerate(lines):
        if line.strip() == field:
            above = [x.strip() for x in lines[max(0, i - 1):i] if x.strip().startswith("--")]
            assert above and comment in above[-1], f"{field} is not under a comment with {comment!r}:\n{body}"
            return
    raise AssertionError(f"no line {field!r} in:\n{body}")


def fastapi_template(p, root="."):
    """A full-stack FastAPI template: backend/ with alembic, run by `fastapi
    run` from its Dockerfile; a compose file at the root with the healthcheck."""
    p.write(f"{root}/backend/pyproject.toml", """\
        [project]
        name = "app"
        version = "0.1.0"
        requires-python = ">=3.10,<4.0"
        dependencies = ["fastapi[standard]<1.0.0,>=0.114.2", "alembic<2.0.0,>=1.12.1",
                        "psycopg[binary]<4.0.0,>=3.1.13", "sqlmodel<1.0.0,>=0.0.21"]
        """)
    p.write(f"{root}/backend/uv.lock", "version = 1\n")
    p.write(f"{root}/backend/alembic.ini", "[alembic]\nscript_location = app/alembic\n")
    p.write(f"{root}/backend/Dockerfile", """\
        FROM python:3.10
        ENV PYTHONUNBUFFERED=1
        WORKDIR /app/
        COPY --from=ghcr.io/astral-sh/uv:0.5.11 /uv /uvx /bin/
        ENV PATH="/app/.venv/bin:$PATH"
        ENV UV_COMPILE_BYTECODE=1
        RUN --mount=type=cache,target=/root/.cache/uv \\
            uv sync --frozen --no-install-project
        ENV PYTHONPATH=/app
        COPY ./app /app/app
        CMD ["fastapi", "run", "--workers", "4", "app/main.py"]
        """)
    p.write(f"{root}/backend/app/main.py", """\
        from fastapi import FastAPI
        from app.api.main import api_router
        from app.core.config import settings

        app = FastAPI(title=settings.PROJECT_NAME)
        app.include_router(api_router, prefix=settings.API_V1_STR)
        """)
    p.write(f"{root}/backend/app/api/routes/utils.py", """\
        from fastapi import APIRouter

        router = APIRouter(prefix="/utils", tags=["utils"])

        @router.get("/health-check/")
        async def health_check() -> bool:
            return True
        """)
    p.write(f"{root}/compose.yml", """\
        services:
          db:
            image: postgres:17
            env_file:
              - .env
          backend:
            image: '${DOCKER_IMAGE_BACKEND?Variable not set}:${TAG-latest}'
            restart: always
            env_file:
              - .env
            environment:
              - DOMAIN=${DOMAIN}
              - SMTP_HOST=smtp.example.com
              - SECRET_KEY=${SECRET_KEY?Variable not set}
              - LOG_LEVEL=info
            healthcheck:
              test: ["CMD", "curl", "-f", "http://localhost:8000/api/v1/utils/health-check/"]
              interval: 10s
            build:
              context: ./backend
        """)


def test_init_reads_dockerfile_and_compose_of_a_fastapi_app(project):
    fastapi_template(project, "myshop")
    init(project, "myshop")
    text = project.read("myshop/build.lua")
    body = service(text, "myshop-backend")
    assert '-- the name: the project\'s name "app" is too generic' in text, text
    has(body, "the project's folder", 'dir = "backend",')
    has(body, "found uv.lock", 'manager = "uv",')
    has(body, "from Dockerfile: FROM python:3.10", 'python = "3.10",')
    has(body, "from Dockerfile: CMD", 'cmd = { "fastapi", "run", "--workers", "4", "app/main.py" },')
    has(body, "run from its source tree", 'kind = "app",')
    has(body, "from compose.yml", "port = 8000,")
    has(body, "from compose.yml: healthcheck", 'health = "/api/v1/utils/health-check/",')
    assert 'LOG_LEVEL = "info",' in body and 'SMTP_HOST = "smtp.example.com",' in body, body
    assert 'PYTHONPATH = "/app",' in body, body
    assert "from Dockerfile ENV and compose.yml environment (runtime only)" in body, body
    assert "SECRET_KEY" not in body.replace("env left out, ${...} interpolated from the environment: DOMAIN, SECRET_KEY", ""), body
    assert "env left out, ${...} interpolated from the environment: DOMAIN, SECRET_KEY" in body, body
    assert "    PATH =" not in body and "UV_COMPILE_BYTECODE =" not in body, body
    assert "alembic.ini is here: cmd does not run migrations" in body, body
    assert "requires-python" not in body


def test_init_in_the_backend_folder_alone_reads_its_dockerfile(project):
    fastapi_template(project)
    init(project, "backend")
    body = service(project.read("backend/build.lua"), "proj-backend")
    has(body, "from Dockerfile: CMD", 'cmd = { "fastapi", "run", "--workers", "4", "app/main.py" },')
    # no compose here: the route in the code, under its router's prefix, marked a guess
    has(body, "a guess: a route in app/api/routes/utils.py", 'health = "/utils/health-check/",')
    has(body, "a guess: fastapi's usual port", "port = 8000,")


def test_init_on_a_dockerfile_with_its_own_port_and_healthcheck(project):
    project.write("svc/requirements.txt", "fastapi==0.115.0\nuvicorn==0.30.0\npsycopg2==2.9.9\n")
    project.write("svc/main.py", """\
        from fastapi import FastAPI
        app = FastAPI()

        @app.get("/healthz")
        def healthz():
            return {"ok": True}
        """)
    project.write("svc/Dockerfile", """\
        FROM python:3.12-slim AS build
        RUN apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev \\
            && rm -rf /var/lib/apt/lists/*
        FROM python:3.12-slim
        RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*
        ENV APP_MODE=production API_TOKEN=abc123
        EXPOSE 9000
        HEALTHCHECK --interval=30s CMD curl -f http://localhost:9000/healthz || exit 1
        CMD ["uvicorn", "main:app", "--port", "9000"]
        """)
    init(project, "svc")
    body = service(project.read("svc/build.lua"), "svc")
    has(body, "found requirements.txt", 'manager = "pip",')
    has(body, "from Dockerfile: CMD", 'cmd = { "uvicorn", "main:app", "--port", "9000", "--host", "0.0.0.0" },')
    assert "to listen on 0.0.0.0" in body, body
    has(body, "EXPOSE 9000", "port = 9000,")
    has(body, "from Dockerfile: HEALTHCHECK", 'health = "/healthz",')
    assert 'APP_MODE = "production",' in body and "API_TOKEN =" not in body, body
    assert "env left out, it looks like a secret: API_TOKEN" in body, body
    assert 'build_apt = { "gcc", "libpq-dev" },' in body, body
    assert 'apt = { "libpq5", "curl" },' in body, body
    assert "psycopg2 builds against libpq" in body and "from Dockerfile: apt-get install" in body, body


def test_init_on_a_poetry_app_that_is_no_package(project):
    project.write("orders-api/pyproject.toml", """\
        [tool.poetry]
        name = "backend"
        version = "0.1.0"
        description = ""
        package-mode = false

        [tool.poetry.dependencies]
        python = "^3.12"
        fastapi = "^0.115"
        uvicorn = {extras = ["standard"], version = "^0.32"}
        """)
    project.write("orders-api/poetry.lock", "# lock\n")
    project.write("orders-api/.env.example", "DATABASE_URL=\n")
    project.write("orders-api/src/orders/__init__.py", "")
    project.write("orders-api/src/orders/api.py", """\
        from fastapi import FastAPI

        api = FastAPI(title="orders")

        @api.get("/health", include_in_schema=False)
        def health():
            return "ok"
        """)
    init(project, "orders-api")
    text = project.read("orders-api/build.lua")
    body = service(text, "orders-api")
    assert 'the project\'s name "backend" is too generic: the folder\'s name' in text, text
    has(body, "found poetry.lock", 'manager = "poetry",')
    has(body, 'from Poetry\'s python "^3.12"', 'python = "3.12",')
    has(body, "a guess: FastAPI app found at src/orders/api.py",
        'cmd = { "uvicorn", "orders.api:api", "--host", "0.0.0.0" },')
    has(body, "a guess: uvicorn's usual port", "port = 8000,")
    has(body, "a guess: a route in src/orders/api.py", 'health = "/health",')
    has(body, "run from its source tree (uvicorn)", 'kind = "app",')
    has(body, "from .env.example: copy it to .env", 'env_file = ".env",')


def test_init_on_a_requirements_only_flask_app_with_a_procfile(project):
    project.write("flask-todo/requirements.txt", "Flask==3.0.3\ngunicorn==22.0.0\npsycopg2==2.9.9\n")
    project.write("flask-todo/Procfile", "release: flask db upgrade\nweb: gunicorn app:app\n")
    project.write("flask-todo/.env", "FLASK_DEBUG=0\n")
    project.write("flask-todo/app.py", """\
        from flask import Flask
        app = Flask(__name__)

        @app.route("/")
        def index():
            return "todo"
        """)
    init(project, "flask-todo")
    body = service(project.read("flask-todo/build.lua"), "flask-todo")
    has(body, "found requirements.txt", 'manager = "pip",')
    has(body, "from Procfile: web: gunicorn app:app", 'cmd = { "gunicorn", "app:app", "--bind", "0.0.0.0:8000" },')
    has(body, "gunicorn's usual port", "port = 8000,")
    has(body, "a .env file is here", 'env_file = ".env",')
    has(body, "a default: nothing here names a Python version", 'python = "3.11",')
    assert "from requires-python" not in body, body
    assert 'build_apt = { "gcc", "libpq-dev" },' in body and 'apt = { "libpq5" },' in body, body
    assert "Procfile's release step (flask db upgrade) is not part of cmd" in body, body
    assert '-- health = "/health",' in body, body  # none known: left commented out


def test_init_on_a_shell_form_cmd_with_its_own_venv_and_port_variable(project):
    """`CMD exec /venv/bin/gunicorn --bind=0.0.0.0:$PORT app:app` with ENV
    PORT=5000: the venv's gunicorn by name, the port the project sets."""
    project.write("webapp/requirements.txt", "Flask==3.0.3\ngunicorn==22.0.0\n")
    project.write("webapp/runtime.txt", "python-3.12.7\n")
    project.write("webapp/app.py", "from flask import Flask\napp = Flask(__name__)\n")
    project.write("webapp/Dockerfile", """\
        FROM python:3.12-slim AS build
        RUN python -m venv /venv
        COPY requirements.txt .
        RUN /venv/bin/pip install -r requirements.txt
        FROM gcr.io/distroless/python3
        COPY --from=build /venv /venv
        COPY . /app
        ENV PORT=5000
        CMD exec /venv/bin/gunicorn --bind=0.0.0.0:$PORT --workers 1 app:app
        """)
    init(project, "webapp")
    body = service(project.read("webapp/build.lua"), "webapp")
    assert 'cmd = { "gunicorn", "--bind=0.0.0.0:5000", "--workers", "1", "app:app" },' in body, body
    has(body, "the port its command names", "port = 5000,")


def test_init_reads_runtime_txt_and_leaves_compose_hostnames_out(project):
    project.write("api/requirements.txt", "fastapi==0.115.12\nuvicorn==0.34.2\n")
    project.write("api/runtime.txt", "python-3.12.7\n")
    project.write("api/main.py", "from fastapi import FastAPI\napp = FastAPI()\n")
    project.write("api/compose.yaml", """\
        services:
          db:
            image: postgres:16
          cache:
            image: redis:7
          api:
            build: .
            environment:
              DATABASE_URL: postgresql://app@db:5432/app
              REDIS_HOST: cache
              LOG_LEVEL: info
            ports: ["8000:8000"]
        """)
    init(project, "api")
    body = service(project.read("api/build.lua"), "proj-api")  # "api" alone names nothing
    has(body, "from runtime.txt", 'python = "3.12",')
    assert 'LOG_LEVEL = "info",' in body, body
    assert "DATABASE_URL =" not in body and "REDIS_HOST =" not in body, body
    assert "env left out, it names a host of the compose file's own network: DATABASE_URL, REDIS_HOST" in body, body


def test_init_on_a_django_project(project):
    project.write("blog/requirements.txt", "Django==5.0.6\ngunicorn==22.0.0\nmysqlclient==2.2.4\n")
    project.write("blog/manage.py", "import os, sys\n")
    project.write("blog/blog/settings.py", "DEBUG = False\n")
    project.write("blog/blog/wsgi.py", "from django.core.wsgi import get_wsgi_application\n")
    project.write("blog/blog/urls.py", """\
        from django.urls import path
        from . import views
        urlpatterns = [path("healthz/", views.healthz), path("", views.index)]
        """)
    init(project, "blog")
    body = service(project.read("blog/build.lua"), "blog")
    has(body, "a Django project (manage.py, blog/wsgi.py), served by gunicorn",
        'cmd = { "gunicorn", "blog.wsgi", "--bind", "0.0.0.0:8000" },')
    has(body, "a guess: a route in blog/urls.py", 'health = "/healthz/",')
    assert 'build_apt = { "gcc", "pkg-config", "default-libmysqlclient-dev" },' in body, body
    assert 'apt = { "libmariadb3" },' in body, body


def test_init_on_a_django_project_without_gunicorn(project):
    project.write("site/requirements.txt", "Django==5.0.6\n")
    project.write("site/manage.py", "import os, sys\n")
    project.write("site/mysite/wsgi.py", "application = None\n")
    init(project, "site")
    body = service(project.read("site/build.lua"), "site")
    has(body, "gunicorn is not a dependency", 'cmd = { "python", "manage.py", "runserver", "0.0.0.0:8000" },')


def workspace(p):
    p.write("pyproject.toml", """\
        [project]
        name = "platform"
        version = "0"
        requires-python = ">=3.12"

        [tool.uv.workspace]
        members = ["packages/*"]
        """)
    p.write("uv.lock", "version = 1\n")
    p.write("packages/orders/pyproject.toml", """\
        [project]
        name = "orders"
        version = "0.1.0"
        requires-python = ">=3.12"
        dependencies = ["fastapi>=0.115", "uvicorn>=0.30", "shared"]

        [tool.uv.sources]
        shared = { workspace = true }
        """)
    p.write("packages/orders/src/orders/main.py", "from fastapi import FastAPI\napp = FastAPI()\n")
    p.write("packages/shared/pyproject.toml", '[project]\nname = "shared"\nversion = "0.1.0"\n')
    p.write("packages/shared/src/shared/__init__.py", "VALUE = 1\n")


def test_init_in_a_uv_workspace_member_writes_the_recipe_at_the_root(project):
    workspace(project)
    r = init(project, "packages/orders")
    assert "uv lock" not in r.out + r.err, r
    assert not project.exists("packages/orders/build.lua")
    body = service(project.read("build.lua"), "orders")
    has(body, "a member of the uv workspace here", 'package = "packages/orders",')
    has(body, "workspace libraries it depends on", 'members = { "packages/shared" },')
    has(body, "found uv.lock at the workspace's root", 'manager = "uv",')
    has(body, "a guess: FastAPI app found at src/orders/main.py",
        'cmd = { "uvicorn", "orders.main:app", "--host", "0.0.0.0" },')


def test_init_at_a_uv_workspace_root_writes_each_service(project):
    workspace(project)
    init(project)
    text = project.read("build.lua")
    service(text, "orders")
    assert "-- packages/shared: not a service: nothing says how it starts" in text, text
    assert text.count("python.service") == 1, text


def test_init_at_a_monorepo_root_writes_one_recipe_for_every_service(project):
    project.write("services/users/pyproject.toml", """\
        [project]
        name = "api"
        version = "1"
        requires-python = ">=3.11"
        dependencies = ["fastapi", "uvicorn[standard]"]
        """)
    project.write("services/users/uv.lock", "version = 1\n")
    project.write("services/users/app/main.py", """\
        from fastapi import FastAPI
        app = FastAPI()

        @app.get("/api/health")
        def health():
            return {}
        """)
    project.write("services/billing/pyproject.toml", """\
        [project]
        name = "billing"
        version = "1"
        dependencies = ["starlette", "uvicorn"]

        [project.scripts]
        billing = "billing.server:main"
        billing-report = "billing.report:main"

        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"
        """)
    project.write("services/billing/uv.lock", "version = 1\n")
    project.write("services/billing/billing/__init__.py", "")
    project.write("services/billing/billing/server.py", """\
        import uvicorn
        from starlette.applications import Starlette

        def main():
            uvicorn.run(Starlette(), host="0.0.0.0", port=8100)
        """)
    project.write("services/billing/billing/report.py", "def main():\n    print('report')\n")
    project.write("libs/common/pyproject.toml", '[project]\nname = "common"\nversion = "1"\n')
    project.write("libs/common/uv.lock", "version = 1\n")
    project.write("libs/common/common/__init__.py", "")
    init(project)
    text = project.read("build.lua")
    users = service(text, "users")  # "api" is generic: the folder's name
    has(users, "the project's folder", 'dir = "services/users",')
    has(users, "a guess: FastAPI app found at app/main.py",
        'cmd = { "uvicorn", "app.main:app", "--host", "0.0.0.0" },')
    has(users, "a guess: a route in app/main.py", 'health = "/api/health",')
    billing = service(text, "billing")
    has(billing, "the console script billing (billing.server:main) starts a server", 'cmd = { "billing" },')
    has(billing, "a console script of the project: run from the venv", 'kind = "package",')
    has(billing, "a guess: the default port in billing/server.py", "port = 8100,")
    assert "-- libs/common: not a service: nothing says how it starts" in text, text


def test_init_never_takes_a_printing_console_script_for_the_command(project):
    project.write("tool/pyproject.toml", """\
        [project]
        name = "tool"
        version = "1"
        dependencies = ["flask"]

        [project.scripts]
        tool = "tool.cli:main"
        """)
    project.write("tool/uv.lock", "version = 1\n")
    project.write("tool/tool/__init__.py", "")
    project.write("tool/tool/cli.py", "def main():\n    print('hello')\n")
    project.write("tool/tool/web.py", "from flask import Flask\napp = Flask(__name__)\n")
    init(project, "tool")
    body = service(project.read("tool/build.lua"), "tool")
    has(body, "a guess: Flask app found at tool/web.py",
        'cmd = { "flask", "--app", "tool.web:app", "run", "--host", "0.0.0.0" },')
    has(body, "flask's usual port", "port = 5000,")


def test_init_says_so_when_nothing_says_how_it_starts(project):
    project.write("lib/pyproject.toml", """\
        [project]
        name = "lib"
        version = "1"

        [project.scripts]
        lib = "lib.cli:main"
        """)
    project.write("lib/uv.lock", "version = 1\n")
    project.write("lib/lib/cli.py", "def main():\n    print('hello')\n")
    r = init(project, "lib", code=2)
    assert "nothing says how it starts" in r.err and "its console scripts do not serve" in r.err, r
    assert not project.exists("lib/build.lua")


def test_init_on_a_streamlit_app(project):
    project.write("dash/pyproject.toml", """\
        [project]
        name = ""
        version = "1"
        requires-python = ">=3.11"
        dependencies = ["streamlit>=1.38"]
        """)
    project.write("dash/uv.lock", "version = 1\n")
    project.write("dash/streamlit_app.py", "import streamlit as st\nst.title('hi')\n")
    init(project, "dash")
    body = service(project.read("dash/build.lua"), "dash")
    has(body, "a guess: a Streamlit app found at streamlit_app.py",
        'cmd = { "streamlit", "run", "streamlit_app.py", "--server.address", "0.0.0.0", "--server.headless", "true" },')
    has(body, "Streamlit's own health path", 'health = "/_stcore/health",')
    has(body, "streamlit's usual port", "port = 8501,")


def test_init_reads_the_compose_file_next_to_the_project(project):
    project.write("worker/requirements.txt", "hypercorn\nquart\n")
    project.write("worker/app.py", "from quart import Quart\napp = Quart(__name__)\n")
    project.write("worker/compose.yaml", """\
        x-env: &env
          REGION: eu
        services:
          worker:
            build: .
            command: sh -c "python migrate.py && hypercorn app:app --bind 127.0.0.1:7000"
            ports: ["7000:7000"]
            environment:
              <<: *env
              QUEUE: jobs
            env_file: [.env.local]
        """)
    init(project, "worker")
    body = service(project.read("worker/build.lua"), "worker")
    has(body, "from compose.yaml: services.worker.command",
        'cmd = { "hypercorn", "app:app", "--bind", "0.0.0.0:7000" },')
    assert "left out of cmd: python migrate.py" in body, body
    has(body, 'from compose.yaml: ports "7000:7000"', "port = 7000,")
    assert 'QUEUE = "jobs",' in body and 'REGION = "eu",' in body, body
    has(body, "from compose.yaml: env_file .env.local", 'env_file = ".env.local",')


def test_init_does_not_keep_a_recipe_that_does_not_load(project, tmp_path):
    over = tmp_path / "broken"
    (over / "lua/dbx").mkdir(parents=True)
    (over / "lua/dbx/python.lua").write_text('error("python.lua is broken here")\n')
    project.write("app/requirements.txt", "flask\n")
    project.write("app/app.py", "from flask import Flask\napp = Flask(__name__)\n")
    r = project.run("init", "app", env={"DBX_LUA_PATH": str(over)})
    assert r.code == 1, r
    assert "the recipe dbx init wrote does not load" in r.err and "python.lua is broken here" in r.err, r
    assert 'python.service "app-app"' in r.err or "python.service" in r.err, r
    assert not project.exists("app/build.lua")


def test_init_reads_the_fastapi_entrypoint_in_pyproject(project):
    project.write("shop/pyproject.toml", """\
        [project]
        name = "shop"
        version = "1"
        requires-python = ">=3.12"
        dependencies = ["fastapi[standard]>=0.115"]

        [tool.fastapi]
        entrypoint = "shop.web:api"
        """)
    project.write("shop/uv.lock", "version = 1\n")
    project.write("shop/shop/web.py", "from fastapi import FastAPI\napi = FastAPI()\nother = FastAPI()\n")
    init(project, "shop")
    body = service(project.read("shop/build.lua"), "shop")
    has(body, 'from pyproject.toml: [tool.fastapi] entrypoint = "shop.web:api"',
        'cmd = { "uvicorn", "shop.web:api", "--host", "0.0.0.0" },')


def test_init_says_a_broken_compose_file_was_not_read(project):
    project.write("web2/requirements.txt", "flask\ngunicorn\n")
    project.write("web2/app.py", "from flask import Flask\napp = Flask(__name__)\n")
    project.write("web2/Procfile", "web: gunicorn app:app --bind 0.0.0.0:$PORT --workers 2\n")
    project.write("web2/compose.yaml", "services:\n  web2: [build: .\n")
    init(project, "web2")
    body = service(project.read("web2/build.lua"), "web2")
    has(body, "from Procfile: web: gunicorn app:app --bind 0.0.0.0:$PORT",
        'cmd = { "gunicorn", "app:app", "--bind", "0.0.0.0:8000", "--workers", "2" },')
    assert re.search(r"-- compose\.yaml: line \d+: .* \(not read\)", body), body


def test_init_matches_a_compose_service_built_from_the_workspace_root(project):
    """The compose service builds from the root with a Dockerfile inside the member."""
    project.write("pyproject.toml", '[tool.uv.workspace]\nmembers = ["backend"]\n')
    project.write("uv.lock", "version = 1\n")
    project.write("backend/pyproject.toml", """\
        [project]
        name = "app"
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = ["fastapi[standard]>=0.114"]
        """)
    project.write("backend/app/main.py", "from fastapi import FastAPI\napp = FastAPI()\n")
    project.write("backend/Dockerfile", """\
        FROM python:3.12
        WORKDIR /app/backend/
        CMD ["fastapi", "run", "--workers", "4", "app/main.py"]
        """)
    project.write("compose.yml", """\
        services:
          backend:
            environment:
              PROJECT_NAME: ${PROJECT_NAME:?Variable not set}
              DATABASE_URL: postgresql://postgres:${POSTGRES_PASSWORD:?Variable not set}@db:5432/app
            healthcheck:
              test: ["CMD", "curl", "-f", "http://localhost:8000/api/v1/utils/health-check/"]
            build:
              context: .
              dockerfile: backend/Dockerfile
        """)
    init(project)
    body = service(project.read("build.lua"), "proj-backend")
    has(body, "a member of the uv workspace here", 'package = "backend",')
    has(body, "from Dockerfile: CMD", 'cmd = { "fastapi", "run", "--workers", "4", "app/main.py" },')
    has(body, "from compose.yml: healthcheck", 'health = "/api/v1/utils/health-check/",')
    assert "env left out, ${...} interpolated from the environment: DATABASE_URL, PROJECT_NAME" in body, body


def test_init_reads_gunicorn_config_and_python_version(project):
    """Shaped like a Heroku Django starter: Procfile with gunicorn's config file."""
    project.write("starter/requirements.txt", "django>=5.0,<5.1\ngunicorn>=22\n")
    project.write("starter/.python-version", "# The Python version to use.\n3.12\n")
    project.write("starter/Procfile", "web: gunicorn --config gunicorn.conf.py gettingstarted.wsgi\n")
    project.write("starter/gunicorn.conf.py", 'import os\nbind = ["[::]:{}".format(os.environ.get("PORT", 5006))]\n')
    project.write("starter/manage.py", "")
    project.write("starter/gettingstarted/wsgi.py", "")
    init(project, "starter")
    body = service(project.read("starter/build.lua"), "starter")
    has(body, "from .python-version", 'python = "3.12",')
    has(body, "from Procfile", 'cmd = { "gunicorn", "--config", "gunicorn.conf.py", "gettingstarted.wsgi" },')
    has(body, "from gunicorn.conf.py: its bind", "port = 5006,")
