#!/bin/sh
# Container entrypoint for postura.
#
#   MODE=api    -> exec postura-api   (HTTP on $POSTURA_HOST:$POSTURA_PORT)
#   MODE=batch  -> exec postura-batch "$@"   (the default)
#
# MODE comes from the environment, or from a first argument of the form
# MODE=..., which wins (so `docker run IMAGE MODE=batch --input ... --output ...`
# works). Any other MODE is an error: message on stderr, exit status 2.
# exec replaces this shell, so the program is PID 1 and gets SIGTERM itself.
set -eu

case "${1:-}" in
    MODE=*)
        MODE=${1#MODE=}
        shift
        ;;
esac
MODE=${MODE:-batch}

case "$MODE" in
    api)
        exec postura-api "$@"
        ;;
    batch)
        exec postura-batch "$@"
        ;;
    *)
        echo "entrypoint: unknown MODE '$MODE' (expected 'api' or 'batch')" >&2
        exit 2
        ;;
esac
