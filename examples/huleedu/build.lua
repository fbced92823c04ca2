-- HuleEdu (seed: huleedu-dev-container-patterns.md): a PDM monorepo of Quart
-- services sharing two libraries. Every service image follows the seed's
-- layer order: base (env, OS packages), the manifests of the libraries and of
-- the service with its pdm.lock, third-party dependencies (prod: no dev
-- group), the shared library source, then the service source. A library edit
-- rebuilds every service's source layer and no deps layer; the services build
-- in parallel. Ports: HTTP from the table below, Prometheus = HTTP + 2092.
--
-- Where this differs from the seed, and why:
-- * No `pdm lock --lockfile pdm.lock.docker || install without a lock`: each
--   service's committed pdm.lock is used, checked on the host first
--   (SERVICE/lock); an image resolved afresh at build time is not reproducible.
-- * PDM_USE_VENV=false is not set: with it pdm ignores the venv and installs
--   into __pypackages__; the service runs from an explicit venv instead.
-- * No build-essential / python3-dev: every dependency ships a wheel, and the
--   compiler would only make the image bigger.
local python = require "dbx.python"

local SERVICES = {
  { name = "identity_service", port = 7005, script = "identity-service" },
  { name = "content_service", port = 7006, script = "content-service" },
}

for _, s in ipairs(SERVICES) do
  local metrics = s.port + 2092
  python.service(s.name:gsub("_", "-")) {
    project = "services/" .. s.name,
    members = { "libs/common_core", "libs/huleedu_service_libs" },
    python = "3.11",
    user = "appuser",
    apt = { "curl" },
    env = {
      ENV_TYPE = "docker",
      QUART_APP = "app:app",
      QUART_ENV = "production",
      SERVICE_LOG_LEVEL = "INFO",
      SERVICE_HOST = "0.0.0.0",
      SERVICE_HTTP_PORT = tostring(s.port),
      SERVICE_PROMETHEUS_PORT = tostring(metrics),
    },
    port = s.port,
    expose = { metrics },
    health = "/health",
    health_interval = "30s",
    stop_signal = "SIGTERM",   -- the services stop on it with exit 0
    cmd = { s.script },
    -- the seed's dev stage: source bind-mounted, hypercorn's own reloader
    -- (dbx dev still rebuilds when a lock or manifest changes)
    dev = { extras = {}, mode = "mount",
            cmd = { "hypercorn", "--reload", "--bind", "127.0.0.1:" .. s.port, s.name .. ".asgi:app" } },
  }
end
