#!/usr/bin/env bash
# What the test suite needs besides npm packages, installed when missing (as root, or through
# sudo when there is one); where it cannot install, it says how and fails (exit 3):
#   - Debian's chromium, for the ort-web and HTML report tests;
#   - python3-venv, without which Debian's python3 cannot make a virtual environment;
#   - the Core ML bridge's Python environment (.eformer/venv, `eformer setup coreml`), with
#     exactly the versions python/requirements.txt pins;
#   - LiteRT's interpreter in the same environment (`eformer setup litert`), with exactly the
#     versions python/requirements-litert.txt pins.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1
  fi
}

apt_install() {
  # $1: the package; the rest: what it is for.
  local package="$1"; shift
  if command -v apt-get >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null 2>&1 \
     || { as_root apt-get update -qq >/dev/null 2>&1 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null; }; then
    echo "setup-test-env: installed $package ($*)" >&2
  else
    echo "setup-test-env: $package is missing ($*): run 'sudo apt-get install -y $package'" >&2
    exit 3
  fi
}

chromium_path="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$chromium_path" ] || apt_install chromium "headless Chromium for the ort-web and HTML report tests (or set CHROMIUM_PATH)"

python="${EFORMER_PYTHON:-python3}"
probe="$(mktemp -d)"
if ! "$python" -m venv "$probe/venv" >/dev/null 2>&1; then
  apt_install python3-venv "Debian's python3 cannot make a virtual environment without it"
fi
rm -rf "$probe"

# The pinned versions of requirements file $1 (default python/requirements.txt), not just importable packages.
pinned_ok() {
  [ -x .eformer/venv/bin/python ] || return 1
  .eformer/venv/bin/python - "${1:-python/requirements.txt}" <<'PY'
import re, sys
from importlib.metadata import version, PackageNotFoundError
bad = []
for line in open(sys.argv[1]):
    m = re.match(r'^\s*([A-Za-z0-9_.-]+)==(\S+)', line)
    if not m:
        continue
    try:
        got = version(m.group(1))
    except PackageNotFoundError:
        got = None
    if got != m.group(2):
        bad.append(f'{m.group(1)} {got} (pinned {m.group(2)})')
if bad:
    print(f'setup-test-env: .eformer/venv differs from {sys.argv[1]}: ' + ', '.join(bad), file=sys.stderr)
    sys.exit(1)
PY
}
if ! pinned_ok; then
  echo "setup-test-env: (re)creating .eformer/venv with the Core ML bridge's pinned requirements" >&2
  rm -rf .eformer/venv
  node bin/eformer.js setup coreml >&2
  pinned_ok
fi
# LiteRT's interpreter is added to the environment, never by remaking it.
if ! pinned_ok python/requirements-litert.txt; then
  echo "setup-test-env: adding LiteRT's pinned interpreter to .eformer/venv" >&2
  node bin/eformer.js setup litert >&2
  pinned_ok python/requirements-litert.txt
fi
