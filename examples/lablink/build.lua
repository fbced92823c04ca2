-- LabLink (seed: lablink-docker-spec.md): the allocator, a Flask service, and
-- the client that runs on the lab's GPU machines, both managed by uv, each in
-- a dev, a prod and a release image.
--   dev      the checkout's source, `uv sync --extra dev` (pytest, ruff, coverage)
--   prod     built from the checkout: no uv, no dev tools, no source tree
--   release  the seed's production Dockerfile: the published package at the
--            version given as PACKAGE_VERSION, installed with `uv pip install`
--            from a package index (PACKAGE_INDEX, PyPI by default); no source
--     dbx build client/release --build-arg PACKAGE_VERSION=0.3.0
-- `dbx gen` writes each package's Dockerfile (release), Dockerfile.dev and
-- Dockerfile.source (prod), with start.sh activating the venv.
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
  release = { package = "lablink-allocator" },
}

-- The seed's client image is FROM NVIDIA's CUDA 12.8.1 runtime. Here that
-- name is a stand-in (Debian bookworm, Python 3.11, no CUDA; its labels say
-- so), and check_gpu reports honestly that no GPU is usable. On a GPU host,
-- `dbx dev client` asks the engine for every GPU (gpus below), and
-- `docker run --gpus all client:release` does the same by hand.
python.service "client" {
  dir = "client",
  base = "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04",
  python = "3.11",
  user = "client",
  workdir = "/home/client",
  venv = "/home/client/.venv",
  gpus = "all",
  env = { ALLOCATOR_URL = "http://127.0.0.1:5000" },
  cmd = { "subscribe" },
  -- no port to probe: healthy when its code imports (after each reload too)
  health_cmd = { "python", "-c", "import lablink_client.subscribe" },
  dev = { extras = { "dev" } },
  release = { package = "lablink-client" },
}
