-- Strain Seer (seed: strain-seer-docker-design.md): a Streamlit app managed
-- by Poetry. prod is the seed's multi-stage build: a builder installs the
-- locked dependencies (`poetry install --no-root --no-directory --only main
-- --compile`) and then the app as a wheel; the runtime image gets only the
-- venv, runs as appuser (uid 1000) with TMPDIR=/tmp/app owned by it.
--
-- Where this differs from the seed, and why:
-- * Python 3.11, not 3.12: the base image here holds 3.11, and the project
--   allows both (requires-python = ">=3.11,<3.13").
-- * The HEALTHCHECK asks /_stcore/health with Python's urllib instead of curl:
--   curl is not in python:*-slim, and installing it only for the check would
--   add a package the app never uses.
local python = require "dbx.python"

python.service "strain-seer" {
  python = "3.11",
  user = "appuser",
  uid = 1000,
  dirs = { "/tmp/app" },
  env = { TMPDIR = "/tmp/app", STREAMLIT_SERVER_PORT = "8501" },
  -- the seed's system libraries (OpenMP, FreeType, PNG, JPEG): today's wheels of
  -- SciPy, matplotlib and Pillow bundle their own copies, so these matter for a
  -- package built from source or a wheel that links the system's
  apt = { "libgomp1", "libfreetype6", "libpng16-16", "libjpeg62-turbo" },
  port = 8501,
  health = "/_stcore/health",
  cmd = { "strain-seer" },
}
