-- LabLink (seed: lablink-docker-spec.md): the allocator, a Flask service
-- managed by uv, in a dev and a prod image. The venv lives at /app/.venv and a
-- start script activates it; prod holds no uv, no dev tools, no source tree.
local python = require "dbx.python"

python.service "allocator" {
  dir = "allocator",
  python = "3.11",
  venv = "/app/.venv",
  port = 5000,
  health = "/health",
  env = { ALLOCATOR_HOST = "127.0.0.1", ALLOCATOR_PORT = "5000" },
  cmd = { "lablink-allocator" },
  dev = { extras = { "dev" } },
}
