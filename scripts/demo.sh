#!/usr/bin/env bash
# The demo `make demo` runs (inside scripts/with-engine.sh): build LabLink's
# allocator, run it, ask it for /health, build again (nothing to do), explain.
set -euo pipefail
cd "$(dirname "$0")/.."
docker=/usr/bin/docker
command -v "$docker" >/dev/null || docker=docker

step() { printf '\n== %s\n' "$*"; }

step "dbx build prod (examples/lablink): base, deps, source and entrypoint layers"
./dbx -C examples/lablink build prod

step "run allocator:prod and ask it for /health"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cid=$("$docker" run -d --pull never --network host -e ALLOCATOR_PORT="$port" allocator:prod)
trap '"$docker" rm -f "$cid" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 1 50); do
  if curl -fsS "http://127.0.0.1:$port/health" 2>/dev/null; then echo; break; fi
  sleep 0.2
done
"$docker" exec "$cid" sh -c 'echo "user: $(id -un), python: $(/app/.venv/bin/python --version)"; ls -A /app'

step "dbx build prod again: every layer is up to date, docker is not run"
./dbx -C examples/lablink build prod

step "the command-graph example, and why a target would rebuild"
./dbx -C examples/commands build
./dbx -C examples/commands explain report
