#!/usr/bin/env bash
# The container engine dbx's tests and demo use.
#
#   scripts/engine.sh start    use a reachable engine, or start a private dockerd
#   scripts/engine.sh stop     stop the private dockerd (only the one started here)
#   scripts/engine.sh status   say which engine answers, exit 1 if none
#   scripts/engine.sh env      print `export DOCKER_HOST=...` for the engine to use
#
# A reachable engine ($DOCKER_HOST, else /var/run/docker.sock) is used as it is.
# Otherwise Debian's docker.io is installed if missing and a private dockerd runs
# as root with its data outside the repository ($DBX_ENGINE_ROOT, default
# /var/cache/dbx-engine), overlay2 falling back to vfs, no bridge, no iptables,
# and its own socket. Containers and network-using builds then use host
# networking (dbx picks it by itself on an engine without a bridge; a plain
# `docker build` there needs `--network host`); services bind 127.0.0.1.
set -euo pipefail

ROOT="${DBX_ENGINE_ROOT:-/var/cache/dbx-engine}"
SOCK="$ROOT/docker.sock"
PIDFILE="$ROOT/dockerd.pid"
LOG="$ROOT/dockerd.log"

say() { printf 'engine: %s\n' "$*" >&2; }

# Whether the engine at unix socket or tcp address $1 answers /_ping.
pings() {
  local host="$1"
  case "$host" in
    unix://*) [ -S "${host#unix://}" ] && curl -fsS --max-time 3 --unix-socket "${host#unix://}" http://engine/_ping >/dev/null 2>&1 ;;
    tcp://*) curl -fsS --max-time 3 "http://${host#tcp://}/_ping" >/dev/null 2>&1 ;;
    *) return 1 ;;
  esac
}

# The engine to use: DOCKER_HOST, the system socket, or ours; empty if none answers.
reachable() {
  if [ -n "${DOCKER_HOST:-}" ]; then pings "$DOCKER_HOST" && echo "$DOCKER_HOST"; return 0; fi
  if pings unix:///var/run/docker.sock; then echo unix:///var/run/docker.sock; return 0; fi
  if pings "unix://$SOCK"; then echo "unix://$SOCK"; fi
  return 0
}

ensure_packages() {
  local missing=()
  for p in docker.io curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  [ "$(id -u)" -eq 0 ] || { say "missing ${missing[*]}; run as root or install them"; exit 1; }
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}

# Start dockerd with storage driver $1; 0 once it answers.
start_with() {
  local driver="$1"
  mkdir -p "$ROOT/data" "$ROOT/exec"
  say "starting a private dockerd ($driver) on $SOCK"
  # setsid: its own session, so it outlives the shell that started it
  setsid /usr/sbin/dockerd --data-root "$ROOT/data" --exec-root "$ROOT/exec" \
    -H "unix://$SOCK" --pidfile "$PIDFILE" --storage-driver="$driver" \
    --bridge=none --iptables=false --ip6tables=false \
    >>"$LOG" 2>&1 </dev/null &
  local pid=$!
  for _ in $(seq 1 60); do
    if pings "unix://$SOCK"; then return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}

cmd_start() {
  local host
  host=$(reachable)
  if [ -n "$host" ]; then say "using the engine at $host"; return 0; fi
  if [ -n "${DOCKER_HOST:-}" ]; then
    say "DOCKER_HOST=$DOCKER_HOST does not answer; unset it to start a private engine"; exit 1
  fi
  [ "$(id -u)" -eq 0 ] || { say "no engine answers and starting one needs root"; exit 1; }
  ensure_packages
  [ -x /usr/sbin/dockerd ] || { say "docker.io did not install /usr/sbin/dockerd"; exit 1; }
  if start_with overlay2 || start_with vfs; then
    say "engine ready: export DOCKER_HOST=unix://$SOCK"
    return 0
  fi
  say "dockerd did not start; last lines of $LOG:"
  tail -n 20 "$LOG" >&2 || true
  exit 1
}

cmd_stop() {
  if [ ! -f "$PIDFILE" ]; then say "no private engine is running"; return 0; fi
  local pid
  pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    say "stopped the private engine (pid $pid)"
  fi
  rm -f "$PIDFILE"
  # the network namespace mount dockerd leaves in its own exec root
  for m in "$ROOT"/exec/netns/*; do
    [ -e "$m" ] && umount "$m" 2>/dev/null || true
  done
}

cmd_status() {
  local host
  host=$(reachable)
  if [ -n "$host" ]; then echo "engine: $host answers"; return 0; fi
  echo "engine: none answers (tried ${DOCKER_HOST:-unix:///var/run/docker.sock and unix://$SOCK})"
  return 1
}

cmd_env() {
  local host
  host=$(reachable)
  [ -n "$host" ] || { say "no engine answers; run scripts/engine.sh start"; exit 1; }
  echo "export DOCKER_HOST=$host"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: scripts/engine.sh start|stop|status|env" >&2; exit 2 ;;
esac
