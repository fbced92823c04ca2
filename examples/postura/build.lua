-- Postura (seed: postura-docker-readiness.md): pose analysis with MediaPipe
-- and OpenCV, pip-managed with every package pinned in constraints.txt, in a
-- CPU image (built) and a GPU variant (generated with `dbx gen postura-gpu`).
-- The layers follow the seed's caching order: base image, OS packages, the
-- pins (requirements.txt + constraints.txt), pip install, the source, then the
-- entrypoint. One image, two modes: MODE=batch (the default: the CLI, works
-- with --network none) and MODE=api (HTTP on 8000, /healthz every 30 s).
--
-- Where this differs from the seed, and why:
-- * Python 3.11 from the base image rather than 3.10: the code supports both,
--   and the base image here holds 3.11.
-- * No `pip install --upgrade pip`: it would install whatever pip is newest
--   on the day, against the seed's own "deterministic builds"; the venv's pip
--   installs the pinned set.
-- * git and build-essential are left out: nothing is cloned, and every
--   dependency ships a wheel (the seed marks both optional).
local python = require "dbx.python"

local service = {
  dir = "postura",
  python = "3.11",
  user = "postura",
  apt = { "libgl1", "libglib2.0-0", "ffmpeg", "ca-certificates", "curl" },
  env = {
    PYTHONDONTWRITEBYTECODE = "1", PYTHONUNBUFFERED = "1", PIP_NO_CACHE_DIR = "1",
    POSTURA_ENV = "docker",
    -- matplotlib (imported by mediapipe) wants a writable config folder
    MPLCONFIGDIR = "/tmp/matplotlib",
  },
  dirs = { "/tmp/matplotlib" },
  -- the seed's entrypoint script picks the mode: MODE=api|batch from the
  -- environment or as the first argument; with neither it runs batch (the
  -- seed's default CMD). No default argument here, so -e MODE=api works too.
  kind = "package",   -- the entrypoint runs its console scripts (postura-api, postura-batch)
  entrypoint = { "scripts/entrypoint.sh" },
  keep = { "scripts/entrypoint.sh" },
  cmd = {},
  port = 8000,
  health = "/healthz",
  health_interval = "30s",
  health_when = { MODE = "api" },   -- batch runs have no server to ask
  stop_signal = "SIGTERM",          -- both modes handle it and exit 0
}

python.service "postura" (service)

-- The seed's optional GPU image: the same service on the CUDA runtime base,
-- which has no Python of its own. Not built here (no GPU, and that base image
-- is not available); `dbx gen postura-gpu` writes its Dockerfile.
local gpu = {}
for k, v in pairs(service) do gpu[k] = v end
gpu.base = "nvidia/cuda:12.2.0-cudnn8-runtime-ubuntu22.04"
gpu.apt = { "python3", "python3-venv", "python3-pip", "libgl1", "libglib2.0-0", "ffmpeg", "ca-certificates", "curl" }
gpu.tags = { prod = "postura:gpu", dev = "postura:gpu-dev" }
gpu.in_groups = false
python.service "postura-gpu" (gpu)
