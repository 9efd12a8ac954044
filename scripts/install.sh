#!/usr/bin/env bash
# Everything a new machine needs, split by need; idempotent, safe to run again.
#
#   bash scripts/install.sh                 uv, the locked Python environment, its bytecode
#                                           (all the main job needs; no system package)
#   bash scripts/install.sh --with-browser  the same, plus Debian's Chromium for the browser
#                                           tests (apt-get, where we are root on Debian)
#                                           and the test OIDC provider (npm ci)
#
# Never upgrades the system: apt-get runs only with --with-browser, only when
# /usr/bin/chromium is missing, and then only installs chromium and what it depends on.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  sed -n '2,11s/^# \{0,1\}//p' "$0"
}

with_browser=0
for arg in "$@"; do
  case $arg in
    --with-browser) with_browser=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

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

[ "$with_browser" = 1 ] || exit 0

# The OpenID Connect sign-in tests (tests/browser/test_oidc.py) run a real provider, panva's
# oidc-provider, on Node.js: its packages as locked in tests/oidc/package-lock.json (npm ci
# installs exactly those, anew each time; a few seconds). Without npm those tests fail,
# saying so, unless SPONSORWATCH_SKIP_OIDC=1.
if command -v npm >/dev/null 2>&1; then
  npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
else
  echo "warning: npm is missing (Node.js 20 or later); the OpenID Connect browser tests" \
       "will fail unless SPONSORWATCH_SKIP_OIDC=1" >&2
fi

# The browser tests drive /usr/bin/chromium through Playwright (no chromedriver, no
# `playwright install`). Without recommends: 25 packages instead of 114, and none of the
# desktop services (udev, upower, printing, notifications) that a headless browser never
# uses; fonts come from fonts-dejavu-core, already on Debian with fontconfig.
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: $CHROMIUM is missing and this is not root on Debian; install it with" \
       "'sudo apt-get install --no-install-recommends chromium', or the browser tests" \
       "will be skipped" >&2
  exit 0
fi
echo "installing chromium for the browser tests (apt-get, without recommends)" >&2
# apt's own output is the progress display of this long step.
(apt-get update && DEBIAN_FRONTEND=noninteractive \
   apt-get install -y --no-install-recommends chromium) \
  || echo "warning: chromium could not be installed; browser tests will be skipped" >&2
