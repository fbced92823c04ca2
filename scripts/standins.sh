#!/usr/bin/env bash
# Builds the stand-in base images recipes name, once, when the engine lacks
# them: nothing can be pulled here, so a Debian bookworm root file system with
# python3 (3.11) is made with debootstrap and imported under the real names,
# labelled dbx.standin=true. The root file system is cached outside the
# repository ($DBX_STANDIN_CACHE, default /var/cache/dbx-standins).
#
#   python:3.11-slim, python:3.11-slim-bookworm      python3 3.11, venv, pip
#   python:3.10-slim, python:3.12-slim(-bookworm)    the same 3.11, under the names recipes use
#   ghcr.io/astral-sh/uv:python3.11-bookworm-slim    the same with uv in /usr/local/bin
#   ghcr.io/astral-sh/uv:python3.12-bookworm-slim    the same, under the name trades uses
#   nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04     the same 3.11 with CUDA's environment
#                                                    variables but no CUDA library (labelled)
#
# Certificate authorities the host trusts beyond Debian's (a TLS-inspecting
# proxy's, in /usr/local/share/ca-certificates) are added too, and
# SSL_CERT_FILE / PIP_CERT / REQUESTS_CA_BUNDLE point at the system bundle, so
# uv and pip inside builds reach the package index as the host does.
#
# Needs DOCKER_HOST pointing at the engine (scripts/engine.sh env).
set -euo pipefail

VERSION=2  # bump when what goes into the images changes

CACHE="${DBX_STANDIN_CACHE:-/var/cache/dbx-standins}"
DOCKER="${DOCKER:-/usr/bin/docker}"
UV_VERSION="${DBX_UV_VERSION:-$(cat "$(dirname "$0")/uv-version")}"
MIRROR="${DBX_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PY_TAGS=(python:3.11-slim python:3.11-slim-bookworm python:3.10-slim python:3.12-slim python:3.12-slim-bookworm)
UV_TAG=ghcr.io/astral-sh/uv:python3.11-bookworm-slim
UV_TAGS=(ghcr.io/astral-sh/uv:python3.12-bookworm-slim)
CUDA_TAG=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04

say() { printf 'standins: %s\n' "$*" >&2; }
have() {
  [ "$("$DOCKER" image inspect --format '{{index .Config.Labels "dbx.standin.version"}}' "$1" 2>/dev/null)" = "$VERSION" ]
}

missing=0
for t in "${PY_TAGS[@]}" "$UV_TAG" "${UV_TAGS[@]}" "$CUDA_TAG"; do have "$t" || missing=1; done
((missing)) || exit 0

mkdir -p "$CACHE"
rootfs_tar="$CACHE/bookworm-python3-v$VERSION.tar"
if [ ! -s "$rootfs_tar" ]; then
  command -v debootstrap >/dev/null || {
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  work=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  say "debootstrap bookworm with python3 into $work (about a minute)"
  debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    bookworm "$work" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { say "debootstrap failed; see $CACHE/debootstrap.log"; rm -rf "$work"; exit 1; }
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$work/usr/local/share/ca-certificates/"
    chroot "$work" update-ca-certificates >/dev/null 2>&1
  fi
  rm -rf "$work"/var/lib/apt/lists/* "$work"/var/cache/apt/*.bin "$work"/var/cache/apt/archives/*.deb
  tar -C "$work" -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$work"
fi

changes=(--change 'LABEL dbx.standin=true'
         --change "LABEL dbx.standin.version=$VERSION"
         --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt'
         --change 'LABEL dbx.standin.note="Debian bookworm with its python3 (3.11), standing in for the named image"'
         --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
         --change 'ENV LANG=C.UTF-8'
         --change 'CMD ["python3"]')

if ! have "${PY_TAGS[0]}"; then
  say "importing ${PY_TAGS[0]}"
  "$DOCKER" import "${changes[@]}" "$rootfs_tar" "${PY_TAGS[0]}" >/dev/null
fi
for t in "${PY_TAGS[@]:1}"; do have "$t" || "$DOCKER" tag "${PY_TAGS[0]}" "$t"; done

if ! have "$CUDA_TAG"; then
  say "importing $CUDA_TAG"
  "$DOCKER" import "${changes[@]}" \
    --change 'LABEL dbx.standin.note="Debian bookworm with its python3 (3.11), standing in for the NVIDIA CUDA 12.8.1 runtime image: it holds no CUDA library and no NVIDIA driver, so GPU code finds no device"' \
    --change 'ENV CUDA_VERSION=12.8.1 NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility' \
    "$rootfs_tar" "$CUDA_TAG" >/dev/null
fi

if ! have "$UV_TAG"; then
  uv_tar="$CACHE/bookworm-python3-v$VERSION-uv-$UV_VERSION.tar"
  if [ ! -s "$uv_tar" ]; then
    dl=$(mktemp -d)
    say "fetching uv $UV_VERSION from PyPI"
    python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
      -d "$dl" "uv==$UV_VERSION"
    mkdir -p "$dl/x/usr/local/bin"
    python3 - "$dl" <<'PY'
import sys, zipfile, glob, os
d = sys.argv[1]
whl = glob.glob(os.path.join(d, "uv-*.whl"))[0]
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        base = os.path.basename(name)
        if "/scripts/" in name and base in ("uv", "uvx"):
            out = os.path.join(d, "x/usr/local/bin", base)
            with open(out, "wb") as f:
                f.write(z.read(name))
            os.chmod(out, 0o755)
PY
    cp "$rootfs_tar" "$uv_tar.tmp"
    tar -C "$dl/x" -rf "$uv_tar.tmp" ./usr/local/bin/uv ./usr/local/bin/uvx
    mv "$uv_tar.tmp" "$uv_tar"
    rm -rf "$dl"
  fi
  say "importing $UV_TAG"
  "$DOCKER" import "${changes[@]}" "$uv_tar" "$UV_TAG" >/dev/null
fi
for t in "${UV_TAGS[@]}"; do have "$t" || "$DOCKER" tag "$UV_TAG" "$t"; done
say "stand-in images ready"
