# Shared helpers for the project's scripts. Sourced, not run.
# shellcheck shell=bash
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

# wait_for_url URL SECONDS: polls until the URL answers 2xx.
wait_for_url() {
  local url=$1 secs=${2:-30} i
  for i in $(seq 1 $((secs * 10))); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# configure dir [extra cmake args...]: configures the build tree once.
configure() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$REPO" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >&2
  fi
}

# build [dir] [extra cmake args...]: configures once, then builds everything (tests included).
build() {
  local dir=${1:-$REPO/build}; shift || true
  configure "$dir" "$@"
  cmake --build "$dir" -j"$(nproc)" >&2
}

# build_service [dir]: configures once, then builds only the service binary (what ./scripts/run
# starts), not the tests or the bench tools.
build_service() {
  local dir=${1:-$REPO/build}
  configure "$dir"
  cmake --build "$dir" -j"$(nproc)" --target settlement-coordinator >&2
}
