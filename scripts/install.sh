#!/usr/bin/env bash
# Everything a new machine needs, idempotent: uv, the locked Python environment, and
# (where we are root on Debian) Chromium for the browser tests. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
# Runs "$@"; on a terminal, ticks the seconds it has taken on one line meanwhile (for a
# long step that draws no progress of its own).
with_ticker() {
  local label=$1
  shift
  if [ ! -t 2 ]; then
    "$@"
    return
  fi
  "$@" &
  local pid=$! start=$SECONDS spin='-\|/' i=0
  while kill -0 "$pid" 2>/dev/null; do
    printf '\r%s %s %ds ' "${spin:i++%4:1}" "$label" $((SECONDS - start)) >&2
    sleep 1
  done
  printf '\n' >&2
  wait "$pid"
}

# Not --quiet: on a terminal uv draws a progress bar for each download (minutes on a new
# machine); in a log it prints a few summary lines.
uv sync --frozen
# Bytecode is compiled once at install (about 40 s on 2 cores, then only what changed):
# machines that set PYTHONDONTWRITEBYTECODE would otherwise recompile mlflow and
# great-expectations in every process, seconds each time. uv shows no progress meanwhile.
with_ticker "compiling bytecode" uv sync --frozen --compile-bytecode --quiet

# Browser tests drive Debian's Chromium; install it where we may (root with apt-get).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the browser tests (apt-get)" >&2
  # apt's own output is the progress display of this long step.
  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
    || echo "warning: chromium could not be installed; browser tests will be skipped" >&2
fi
