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
# PostgreSQL binaries for the store tests, unless a server is given.
pg_bin() {
    local d
    for d in "$(dirname "$(command -v pg_ctl 2>/dev/null || echo /none/x)")" \
        $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
    done
    return 1
}
[ -n "${SWITCHYARD_TEST_POSTGRES_URL:-}" ] || pg_bin >/dev/null || missing+=(postgresql)
# The dashboard browser test: Debian's Chromium, driven by playwright-core from npm.
CHROMIUM_BIN=${CHROMIUM_BIN:-/usr/bin/chromium}
[ -x "$CHROMIUM_BIN" ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
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

# 2b. playwright-core (pinned in tests/browser/package-lock.json) for the browser test.
#     Only the driver: the browser is Debian's chromium, nothing comes from Playwright's CDN.
pw_want=$(node -p 'require("./tests/browser/package-lock.json").packages["node_modules/playwright-core"].version')
pw_have=$(node -p 'try { require("./tests/browser/node_modules/playwright-core/package.json").version } catch (e) { "" }')
if [ "$pw_want" != "$pw_have" ]; then
    log "installing playwright-core $pw_want (npm ci in tests/browser)"
    (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

# 3. A throwaway PostgreSQL cluster on a free local port (trust auth), stopped on exit.
if [ -z "${SWITCHYARD_TEST_POSTGRES_URL:-}" ]; then
    pgbin=$(pg_bin)
    pgdir="$PWD/target/pg-test"
    rm -rf "$pgdir" && mkdir -p "$pgdir"
    run_pg() { "$@"; }
    if [ "$(id -u)" = 0 ]; then  # postgres refuses to run as root
        pguser=postgres
        getent passwd "$pguser" >/dev/null || { pguser=switchyard-test; getent passwd "$pguser" >/dev/null ||
            useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$pguser"; }
        run_pg() { runuser -u "$pguser" -- "$@"; }
        chown "$pguser" "$pgdir"
        # A checkout the user cannot reach (e.g. under /root): use a temporary directory.
        run_pg test -w "$pgdir" || { pgdir=$(mktemp -d /tmp/switchyard-pg.XXXXXX); chown "$pguser" "$pgdir"; }
    fi
    pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    log "starting PostgreSQL ($pgbin) on 127.0.0.1:$pgport, data in $pgdir"
    run_pg "$pgbin/initdb" -D "$pgdir/data" -U switchyard --auth=trust -E UTF8 --locale=C --no-sync >/dev/null
    trap 'run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true' EXIT
    run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -o \
        "-h 127.0.0.1 -p $pgport -k '' -F -c max_connections=400" start >/dev/null
    export SWITCHYARD_TEST_POSTGRES_URL="postgres://switchyard@127.0.0.1:$pgport/postgres"
fi

# 4. Rust tests (one shared target dir, dev profile).
log "cargo test --workspace"
cargo test --workspace --locked

# 5. End-to-end tests against the real binary and a mock upstream.
log "building the binary and the mock upstream for end-to-end tests"
cargo build --locked -p switchyard --bin switchyard
cargo build --locked -p switchyard-testkit --example mock_upstream
log "pytest tests/python"
export SWITCHYARD_TEST_OUTPUT="$PWD/target/test-output/browser"
SWITCHYARD_BIN="$PWD/target/debug/switchyard" \
MOCK_UPSTREAM_BIN="$PWD/target/debug/examples/mock_upstream" \
CHROMIUM_BIN="$CHROMIUM_BIN" SWITCHYARD_REQUIRE_BROWSER=1 \
    .venv/bin/python -m pytest -q tests/python
log "dashboard screenshots: $SWITCHYARD_TEST_OUTPUT"
