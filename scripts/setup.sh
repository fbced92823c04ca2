#!/usr/bin/env bash
# Installs what building and testing dbx needs and is missing: Debian packages
# (apt-get update runs at most once) and pytest. Quiet when everything is there.
set -euo pipefail

debs=(build-essential pkg-config liblua5.4-dev libuv1-dev libcurl4-openssl-dev libssl-dev
      libcjson-dev libcmocka-dev libarchive-dev libyaml-dev python3 python3-pip python3-yaml ninja-build valgrind
      redis-server docker-registry openssh-server openssh-client postgresql)
# redis-server, docker-registry, sshd and PostgreSQL are servers the end-to-end tests
# start themselves, on 127.0.0.1 with ports of their own: their packages must
# not start system services (docker-registry's would listen on every address).
services=(redis-server docker-registry ssh postgresql)

# `setup.sh fuzz`: also clang and its fuzzer runtime, for `make fuzz`
[ "${1:-}" = fuzz ] && debs+=(clang libclang-rt-14-dev)

missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then # no service starts during this install
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
  fi
  rc=0
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  [ -n "$policy" ] && rm -f "$policy"
  ((rc == 0)) || exit "$rc"
  # a server installed just now whose service still started (systemd ignoring
  # policy-rc.d): stop and disable it; one installed before is left alone
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    for s in "${services[@]}"; do
      pkg=$s; [ "$s" = ssh ] && pkg=openssh-server
      [[ " ${missing[*]} " == *" $pkg "* ]] && { systemctl disable --now "$s" >/dev/null 2>&1 || true; }
    done
  fi
fi

if ! python3 -c 'import pytest' 2>/dev/null; then
  echo "setup: installing pytest"
  python3 -m pip install -q pytest 2>/dev/null || python3 -m pip install -q --break-system-packages pytest
fi

# uv, pinned, for host-side lock checks and the examples
want_uv=$(cat "$(dirname "$0")/uv-version")
if [ "$(uv --version 2>/dev/null | awk '{print $2}')" != "$want_uv" ]; then
  echo "setup: installing uv $want_uv"
  python3 -m pip install -q "uv==$want_uv" 2>/dev/null || python3 -m pip install -q --break-system-packages "uv==$want_uv"
fi

# pdm and poetry, pinned, each in its own virtual environment (their
# dependencies must not meet), linked into /usr/local/bin
for tool in pdm poetry; do
  want=$(cat "$(dirname "$0")/$tool-version")
  if [ "$("$tool" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1)" != "$want" ]; then
    echo "setup: installing $tool $want"
    rm -rf "/opt/dbx-tools/$tool"
    python3 -m venv "/opt/dbx-tools/$tool"
    extra=()
    # pdm 2.26 breaks with unearth 0.19 (TypeError in `pdm lock`/`pdm install`)
    [ "$tool" = pdm ] && extra=("unearth<0.19")
    "/opt/dbx-tools/$tool/bin/pip" install -q "$tool==$want" "${extra[@]}"
    ln -sf "/opt/dbx-tools/$tool/bin/$tool" "/usr/local/bin/$tool"
  fi
done
