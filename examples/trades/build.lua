-- trades (seed: trades-docker-config.md): a uv workspace (root pyproject.toml
-- and uv.lock, members under services/) with two services, each its own image
-- built the seed's way:
--   builder   the uv image, UV_COMPILE_BYTECODE=1, UV_LINK_MODE=copy,
--             UV_PYTHON_DOWNLOADS=0, uv's cache on a BuildKit cache mount
--   deps      every member's pyproject.toml and uv.lock only, then
--             `uv sync --frozen --no-install-workspace --package NAME --no-dev`
--   source    the member's own folder, `uv sync --frozen --package NAME --no-dev`,
--             then tests and caches removed
--   final     the slim Python image, non-root user app, /app/state owned by it,
--             the venv on PATH, SERVICE_NAME as a build argument, and
--             `exec python /app/services/$SERVICE_NAME/src/$SERVICE_NAME/main.py`
-- Where it departs from the seed, and why:
--   * the deps layer copies the members' manifests, not all of services/, so a
--     source edit never reinstalls the dependencies, and editing one member
--     rebuilds only that member's source layer;
--   * *.dist-info folders are kept: console scripts and importlib.metadata
--     need them; compiled bytecode in the venv is kept too (that is what
--     UV_COMPILE_BYTECODE is for);
--   * the application files stay owned by root (read-only for app); only
--     /app/state belongs to app. uid 10001, as the Kubernetes manifests in
--     deployments/dev/ say runAsUser;
--   * the broker is Redis Streams (no Kafka broker runs on the test machines);
--     BROKER_ADDRESS, or the seed's KAFKA_BROKER_ADDRESS, names it;
--   * the entrypoint is dbx's start.sh (it activates the venv) and the seed's
--     `sh -c "exec python .../main.py"` is the CMD, so `docker run IMAGE sh`
--     still gives a shell in the venv;
--   * the stand-in images named python:3.12 hold Python 3.11 (see DESIGN.md).
local python = require "dbx.python"

for _, name in ipairs({ "trades", "candles" }) do
  python.service(name) {
    package = "services/" .. name,
    kind = "package",   -- main.py imports the member's own package, so it is installed
    members = { "libs/streamcommon" }, -- the shared library, copied before the service's folder
    python = "3.12",
    base = "python:3.12-slim-bookworm",
    builder = "ghcr.io/astral-sh/uv:python3.12-bookworm-slim",
    uv_image = "ghcr.io/astral-sh/uv:python3.12-bookworm-slim",
    user = "app",
    uid = 10001,
    workdir = "/app",
    venv = "/app/.venv",
    dirs = { "/app/state" },
    keep = { "services/" .. name },
    prune = { "tests", "__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", "*.egg-info" },
    build_args = { SERVICE_NAME = name },
    env = { BROKER_ADDRESS = "127.0.0.1:6379", STATE_DIR = "/app/state" },
    stop_signal = "SIGTERM",
    cmd = { "sh", "-c", "exec python /app/services/${SERVICE_NAME}/src/${SERVICE_NAME}/main.py" },
  }
end
