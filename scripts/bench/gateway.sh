#!/usr/bin/env bash
# Gateway overhead benchmark: latency of POST /v1/chat/completions through
# `switchyard serve` minus the latency of calling the mock upstream directly,
# both measured in the same run on the same machine.
#
#   scripts/bench/gateway.sh [OUT_DIR]
#
# Scenarios (each run against the mock directly and through the gateway,
# alternating which goes first from round to round):
#   nonstream-c1    oha, concurrency 1, C1_N requests after a warm-up
#   nonstream-rate  oha, open loop at RATE req/s for RATE_SECS, latency correction on
#   ttft-c1         ttft.py, streaming time to first content chunk, concurrency 1
#   ttft-rate       ttft.py, streaming TTFT, open loop at RATE req/s
# Each ROUNDS times; the table reports medians over rounds.
#
# Environment knobs: ROUNDS (3), C1_N (2000), RATE (200), RATE_SECS (15),
# GATEWAY_RUST_LOG (RUST_LOG for the gateway; default "info", the server's own
# default; its logs go to a file), SKIP_BUILD=1 (use existing release binaries).
#
# Uses release builds. Not part of CI. Needs python3, curl and oha (installed
# with `cargo install oha --locked` when missing).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${1:-$TARGET_DIR/bench/gateway-$(date +%Y%m%d-%H%M%S)}
ROUNDS=${ROUNDS:-3}
C1_N=${C1_N:-2000}
RATE=${RATE:-200}
RATE_SECS=${RATE_SECS:-15}
GATEWAY_RUST_LOG=${GATEWAY_RUST_LOG:-info}
BENCH_DIR=$ROOT/scripts/bench
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -z "${SKIP_BUILD:-}" ]]; then
    log "building release binaries"
    cargo build --release -p switchyard --bin switchyard
    cargo build --release -p switchyard-testkit --example mock_upstream
fi
SWITCHYARD=$TARGET_DIR/release/switchyard
MOCK=$TARGET_DIR/release/examples/mock_upstream

if ! command -v oha >/dev/null; then
    log "oha not found; installing it (cargo install oha --locked, takes minutes)"
    cargo install oha --locked
fi
OHA=$(command -v oha)

PIDS=()
WORK=
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    [[ -n "${WORK:-}" ]] && rm -rf "$WORK"
}
trap cleanup EXIT

WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-bench.XXXXXX")

# --- mock upstream on an OS-chosen port ------------------------------------
"$MOCK" --listen 127.0.0.1:0 >"$WORK/mock.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    grep -q '^listening on ' "$WORK/mock.out" && break
    sleep 0.05
done
MOCK_ADDR=$(sed -n 's/^listening on //p' "$WORK/mock.out")
[[ -n "$MOCK_ADDR" ]] || { cat "$WORK/mock.out" >&2; log "mock did not start"; exit 1; }

# --- gateway --------------------------------------------------------------
cat >"$WORK/switchyard.toml" <<EOF
[server]
shutdown_grace_secs = 2

# The platform path is measured in full (rate-limit window, hold, settlement),
# with limits high enough that the load never hits them.
[platform]
default_rpm = 1000000
default_tpm = 1000000000

[catalogue]
builtin = false

[[providers]]
name = "mock"
kind = "openai"
base_url = "http://$MOCK_ADDR/v1"
api_key = "x"

[[models]]
id = "bench/mock"
provider = "mock"
upstream_model = "mock-model"
prices = { prompt = 5.0, cached_prompt = 2.5, completion = 15.0 }
EOF
DATA=$WORK/data
mkdir -p "$DATA"
KEY=$("$SWITCHYARD" keys create --name bench --json --config "$WORK/switchyard.toml" --data-dir "$DATA" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
GW_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
GW_ADDR=127.0.0.1:$GW_PORT
RUST_LOG=$GATEWAY_RUST_LOG "$SWITCHYARD" serve --config "$WORK/switchyard.toml" --data-dir "$DATA" \
    --listen "$GW_ADDR" >"$OUT/gateway.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do
    curl -fs "http://$GW_ADDR/health" >/dev/null && break
    sleep 0.05
done
curl -fs "http://$GW_ADDR/health" >/dev/null || { log "gateway did not start"; cat "$OUT/gateway.log" >&2; exit 1; }

# url|key|model for each target. Direct calls carry a dummy key (the mock ignores it).
declare -A URL=([direct]="http://$MOCK_ADDR/v1/chat/completions" [gateway]="http://$GW_ADDR/v1/chat/completions")
declare -A BEARER=([direct]="x" [gateway]="$KEY")
declare -A MODEL=([direct]="mock-model" [gateway]="bench/mock")

body() { printf '{"model":"%s","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}' "$1"; }

# Checks that one request of each kind answers as expected before measuring.
for t in direct gateway; do
    code=$(curl -s -o "$WORK/check.json" -w '%{http_code}' -H "Authorization: Bearer ${BEARER[$t]}" \
        -H 'Content-Type: application/json' -d "$(body "${MODEL[$t]}")" "${URL[$t]}")
    [[ $code == 200 || $code == 201 ]] || { log "$t: HTTP $code"; cat "$WORK/check.json" >&2; exit 1; }
    grep -q '"content":"Hello"' "$WORK/check.json" || { log "$t: unexpected answer"; cat "$WORK/check.json" >&2; exit 1; }
done

# oha JSON -> one results line.
record_oha() { # round scenario target json_file foreign_cpu_pct
    python3 - "$@" >>"$RESULTS" <<'PY'
import json, sys
rnd, scenario, target, path, foreign = sys.argv[1:]
r = json.load(open(path))
codes = r.get("statusCodeDistribution", {})
ok = sum(v for k, v in codes.items() if k.startswith("2"))
# With -z, oha cuts the requests still running at the deadline ("aborted due
# to deadline"); those are not failures of the server.
errs = {k: v for k, v in r.get("errorDistribution", {}).items() if "deadline" not in k}
bad = sum(v for k, v in codes.items() if not k.startswith("2")) + sum(errs.values())
pct = r["latencyPercentiles"]
print(json.dumps({"round": int(rnd), "scenario": scenario, "target": target,
                  "p50_ms": pct["p50"] * 1e3, "p99_ms": pct["p99"] * 1e3,
                  "n": ok, "errors": bad, "rps": r["summary"]["requestsPerSec"],
                  "foreign_cpu_pct": float(foreign)}))
PY
}

record_probe() { # round scenario target json_file foreign_cpu_pct
    python3 - "$@" >>"$RESULTS" <<'PY'
import json, sys
rnd, scenario, target, path, foreign = sys.argv[1:]
r = json.load(open(path))
row = {"round": int(rnd), "scenario": scenario, "target": target,
       "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "n": r["n"], "errors": r["errors"],
       "foreign_cpu_pct": float(foreign)}
if "from_send" in r:
    # Open loop: report latency from the moment the request was written. The
    # probe's asyncio timer wakes up to ~1 ms late (epoll has millisecond
    # timeouts), and that lag, not the servers', would dominate the corrected
    # numbers; those are kept as "corrected" in results.jsonl.
    row["corrected"] = {"p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"]}
    row["p50_ms"], row["p99_ms"] = r["from_send"]["p50_ms"], r["from_send"]["p99_ms"]
print(json.dumps(row))
PY
}

oha_run() { # target extra-args...
    local t=$1
    shift
    "$OHA" --no-tui --output-format json -m POST -T application/json \
        -H "Authorization: Bearer ${BEARER[$t]}" -d "$(body "${MODEL[$t]}")" "$@" "${URL[$t]}"
}

# CPU used by processes outside this benchmark while a measurement ran, in
# percent of the whole machine (other work on a shared machine skews tails).
PGID=$(ps -o pgid= $$ | tr -d ' ')
foreign_since() { # "busy ours total" from before
    python3 - "$1" "$(python3 "$BENCH_DIR/cpu_snapshot.py" "$PGID")" <<'PY'
import sys
b0, o0, t0 = map(int, sys.argv[1].split())
b1, o1, t1 = map(int, sys.argv[2].split())
print(f"{max(0, (b1 - b0) - (o1 - o0)) * 100 / max(1, t1 - t0):.1f}")
PY
}

measure() { # round scenario target
    local r=$1 s=$2 t=$3 f="$OUT/raw/$1-$2-$3.json" before foreign
    mkdir -p "$OUT/raw"
    case $s in
    nonstream-c1) oha_run "$t" -c 1 -n 200 >/dev/null ;; # warm-up
    esac
    before=$(python3 "$BENCH_DIR/cpu_snapshot.py" "$PGID")
    case $s in
    nonstream-c1) oha_run "$t" -c 1 -n "$C1_N" >"$f" ;;
    nonstream-rate) oha_run "$t" -c 16 -q "$RATE" -z "${RATE_SECS}s" --latency-correction >"$f" ;;
    ttft-c1)
        python3 "$BENCH_DIR/ttft.py" --url "${URL[$t]}" --key "${BEARER[$t]}" --model "${MODEL[$t]}" \
            --concurrency-1 "$C1_N" --warmup 200 >"$f"
        ;;
    ttft-rate)
        python3 "$BENCH_DIR/ttft.py" --url "${URL[$t]}" --key "${BEARER[$t]}" --model "${MODEL[$t]}" \
            --rate "$RATE" --duration "$RATE_SECS" --warmup 1 >"$f"
        ;;
    esac
    foreign=$(foreign_since "$before")
    case $s in
    nonstream-*) record_oha "$r" "$s" "$t" "$f" "$foreign" ;;
    ttft-*) record_probe "$r" "$s" "$t" "$f" "$foreign" ;;
    esac
    log "round $r $s $t: $(tail -n 1 "$RESULTS")"
}

log "mock at $MOCK_ADDR, gateway at $GW_ADDR (RUST_LOG=$GATEWAY_RUST_LOG), results in $OUT"
oha_run direct -c 1 -n 500 >/dev/null
oha_run gateway -c 1 -n 500 >/dev/null
for r in $(seq "$ROUNDS"); do
    if ((r % 2)); then order=(direct gateway); else order=(gateway direct); fi
    for s in nonstream-c1 nonstream-rate ttft-c1 ttft-rate; do
        for t in "${order[@]}"; do
            measure "$r" "$s" "$t"
        done
    done
done

{
    echo "Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs"
    echo "Gateway RUST_LOG=$GATEWAY_RUST_LOG; rounds=$ROUNDS, C1_N=$C1_N, RATE=$RATE req/s for ${RATE_SECS}s"
    echo
    python3 "$BENCH_DIR/summarize.py" "$RESULTS" --rate "$RATE" --json "$OUT/summary.json"
} | tee "$OUT/summary.md"
log "usage rows written: $(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from usage_ledger").fetchone()[0])' "$DATA/switchyard.db" 2>/dev/null || echo '?')"
