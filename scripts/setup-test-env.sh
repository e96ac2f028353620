#!/usr/bin/env bash
# What the test suite needs besides npm packages: Debian's chromium for the HTML report test,
# and the Core ML bridge's Python environment (.eformer/venv with coremltools, via
# `eformer setup coreml`). Installs what is missing; where it cannot, says how and fails (exit 3).
set -euo pipefail
cd "$(dirname "$0")/.."

chromium_path="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium_path" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup-test-env: installing Debian's chromium for the HTML report test" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup-test-env: headless Chromium is missing: run 'sudo apt-get install -y chromium' (or set CHROMIUM_PATH)" >&2
    exit 3
  fi
fi

if ! .eformer/venv/bin/python -c 'import coremltools, onnx' >/dev/null 2>&1; then
  echo "setup-test-env: creating .eformer/venv with the Core ML bridge's requirements" >&2
  node bin/eformer.js setup coreml >&2
fi
