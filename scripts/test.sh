#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then runs them.
# Used by the README and by .ci/run. Expects ../shared beside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. System packages (Debian).
missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# 2. Python test dependencies in a private virtualenv.
if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    python3 -m venv .venv
fi
log "installing Python test dependencies"
.venv/bin/python -m pip install -q --disable-pip-version-check -r tests/python/requirements.txt

# 3. Rust tests (one shared target dir, dev profile).
log "cargo test --workspace"
cargo test --workspace --locked

# 4. End-to-end tests against the real binary and a mock upstream.
log "building the binary and the mock upstream for end-to-end tests"
cargo build --locked -p switchyard --bin switchyard
cargo build --locked -p switchyard-testkit --example mock_upstream
log "pytest tests/python"
SWITCHYARD_BIN="$PWD/target/debug/switchyard" \
MOCK_UPSTREAM_BIN="$PWD/target/debug/examples/mock_upstream" \
    .venv/bin/python -m pytest -q tests/python
