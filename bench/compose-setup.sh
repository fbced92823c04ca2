#!/usr/bin/env bash
# Build the Docker Compose standalone binary (`docker-compose`, with `watch` and
# develop.watch `action: sync+restart`) from source, for the benchmarks.
#
#   bench/compose-setup.sh        prints the binary's path as its last stdout line
#
# The source comes from the Go module proxy (no GitHub, no Docker Hub needed) and
# is built with the local Go toolchain. Everything lives outside the repository:
#
#   DBX_BENCH_CACHE              cache root (default /var/cache/dbx-bench)
#                                binary: $DBX_BENCH_CACHE/bin/docker-compose
#   DBX_BENCH_COMPOSE_VERSION    release to build (default v2.40.3; v5.x works too
#                                when the toolchain meets its go.mod: v5.6.0 needs
#                                go >= 1.26.8)
#   GO                           go binary (default /usr/local/go/bin/go, else `go`)
#
# A binary already built for the requested version is reused as it is.
#
# Why not `go install github.com/docker/compose/v2/cmd@VERSION`: compose's go.mod
# has `exclude` directives, which `go install pkg@version` refuses. So the module
# is fetched with `go mod download`, copied to a writable tree and built there as
# the main module (its own go.mod/go.sum pin every dependency).
set -euo pipefail

CACHE="${DBX_BENCH_CACHE:-/var/cache/dbx-bench}"
VERSION="${DBX_BENCH_COMPOSE_VERSION:-v2.40.3}"
BIN="$CACHE/bin/docker-compose"

say() { printf 'compose-setup: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

case "$VERSION" in
  v[0-9]*.*.*) ;;
  *) die "DBX_BENCH_COMPOSE_VERSION must look like vX.Y.Z, got '$VERSION'" ;;
esac
MAJOR="${VERSION%%.*}"   # v2, v5, ...
MODULE="github.com/docker/compose/$MAJOR"

# The version a binary reports, without the leading v ("" if it does not run).
built_version() {
  [ -x "$1" ] || return 0
  "$1" version --short 2>/dev/null | sed 's/^v//' || true
}

if [ "$(built_version "$BIN")" = "${VERSION#v}" ]; then
  say "docker-compose $VERSION already built"
  echo "$BIN"
  exit 0
fi

GO="${GO:-}"
if [ -z "$GO" ]; then
  if [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; else GO=$(command -v go || true); fi
fi
[ -n "$GO" ] && [ -x "$GO" ] || die "no Go toolchain (set GO=/path/to/go)"

mkdir -p "$CACHE/bin"

# One build at a time per cache.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.compose-setup.lock"
  flock 9
  # another run may have built it while we waited
  if [ "$(built_version "$BIN")" = "${VERSION#v}" ]; then
    say "docker-compose $VERSION already built"
    echo "$BIN"
    exit 0
  fi
fi

export GOPATH="$CACHE/go"
export GOMODCACHE="$CACHE/go/pkg/mod"
export GOCACHE="$CACHE/go-build"
# the installed toolchain only: never fetch another one
export GOTOOLCHAIN=local
# -modcacherw: the module cache stays deletable with a plain rm -rf
export GOFLAGS="-mod=mod -modcacherw -buildvcs=false"
export CGO_ENABLED=0
export GO111MODULE=on

say "using $("$GO" version)"
start=$(date +%s)

say "fetching $MODULE@$VERSION from the Go module proxy"
if ! info=$("$GO" mod download -json "$MODULE@$VERSION"); then
  err=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' | sed 's/\\u003e/>/g; s/\\u003c/</g')
  die "go mod download $MODULE@$VERSION failed: ${err:-see above}"
fi
dir=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)
[ -n "$dir" ] && [ -f "$dir/go.mod" ] || die "no source directory for $MODULE@$VERSION in: $info"

need=$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$dir/go.mod" | head -n1)
have=$("$GO" env GOVERSION | sed 's/^go//')
if [ -n "$need" ] && [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
  die "$MODULE@$VERSION needs go >= $need, $GO is go$have: pick another DBX_BENCH_COMPOSE_VERSION"
fi

src="$CACHE/src/compose-$VERSION"
rm -rf "$src"
mkdir -p "$CACHE/src"
cp -R "$dir" "$src"
chmod -R u+w "$src"

say "building docker-compose $VERSION (a few minutes on a cold cache)"
tmp="$BIN.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(
  cd "$src"
  "$GO" build -trimpath \
    -ldflags "-s -w -X $MODULE/internal.Version=$VERSION" \
    -o "$tmp" ./cmd
) || die "go build of $MODULE@$VERSION failed"

got=$(built_version "$tmp")
[ "$got" = "${VERSION#v}" ] || die "built binary reports version '$got', expected ${VERSION#v}"
mv -f "$tmp" "$BIN"
trap - EXIT
rm -rf "$src"

say "built docker-compose $VERSION in $(($(date +%s) - start))s"
echo "$BIN"
