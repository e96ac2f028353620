#!/usr/bin/env bash
# What the test suite needs besides npm packages: Debian's chromium for the HTML report test.
# Installs it when missing and we are root with apt; otherwise says how, and fails (exit 3).
set -euo pipefail
chromium_path="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$chromium_path" ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "setup-test-env: installing Debian's chromium for the HTML report test" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "setup-test-env: headless Chromium is missing: run 'sudo apt-get install -y chromium' (or set CHROMIUM_PATH)" >&2
exit 3
