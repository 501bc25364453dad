#!/usr/bin/env bash
# Debian's chromium + chromedriver for the browser tests (make test runs this).
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium and chromium-driver for the browser tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  exit 0
fi
echo "the browser tests need Debian's chromium: sudo apt-get install chromium chromium-driver" >&2
if [ "${CI:-}" = "true" ]; then
  exit 1
fi
