#!/usr/bin/env bash
# Runs a command with a container engine and the stand-in base images ready:
# uses a reachable engine, or starts the private one (and stops it afterwards,
# unless DBX_KEEP_ENGINE=1). DOCKER_HOST (and a DBX_BUILD_NETWORK of the
# caller's) reach the command.
#
#   scripts/with-engine.sh python3 -m pytest tests/e2e
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

started=0
if ! "$here/engine.sh" status >/dev/null 2>&1; then
  "$here/engine.sh" start
  started=1
fi
stop() { if ((started)) && [ "${DBX_KEEP_ENGINE:-0}" != 1 ]; then "$here/engine.sh" stop; fi; }
trap stop EXIT

eval "$("$here/engine.sh" env)"
export DOCKER_HOST
[ -n "${DBX_BUILD_NETWORK:-}" ] && export DBX_BUILD_NETWORK
"$here/standins.sh"
"$@"
