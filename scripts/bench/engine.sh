#!/usr/bin/env bash
# Engine speed against llama.cpp (`llama-bench`) on the same files, same machine, same run.
#
# Writes random-weight GGUFs with real model shapes (Llama-3.2-1B and Qwen2.5-0.5B, Q8_0 and
# Q4_K_M; `model_bench write`, tokenizer keys from ../shared/vocab) and measures each with
#   switchyard bench --model F -p 512 -n 128 -t 2 -r 3 --json
#   llama-bench     -m F      -p 512 -n 128 -t 2 -r 3 -o json -fa 0
# under /usr/bin/time -v (peak RSS). The two engines alternate which goes first from one file
# to the next. Raw outputs go to target/bench/engine-<time>/; a markdown summary to stdout.
#
# Environment: THREADS (2), REPS (3), N_PROMPT (512), N_GEN (128), LLAMA_FA (0: llama.cpp's
# flash attention off, as our attention's order), VOCAB_DIR (../shared/vocab),
# MODELS ("llama1b:q8_0 llama1b:q4_k_m qwen05b:q8_0 qwen05b:q4_k_m"),
# LLAMA_CPP_PYTHON_VERSION (see scripts/bench/llamacpp_build.sh),
# COLD (1: drop the model file from the page cache before each measured run, so both engines
# load it fresh from disk and neither inherits the page-cache layout, 4 KiB or 2 MiB folios,
# that the other or the file's writer left; 0: leave the cache as it is),
# TG_PAIRS (5: after the main runs, this many generation-only runs of each engine, -p 0 -n
# N_GEN -r 1, alternating ours / llama.cpp and who goes first, each loaded cold like the main
# runs; the summary reports the median of the pairs' ratios. Decode is memory-bound on both
# engines and this VM's memory bandwidth drifts by ±20% from minute to minute, so the ratio of
# two runs a minute apart is mostly that drift; adjacent short runs cancel most of it).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BENCH_DIR=$ROOT/scripts/bench
THREADS=${THREADS:-2}
REPS=${REPS:-3}
N_PROMPT=${N_PROMPT:-512}
N_GEN=${N_GEN:-128}
LLAMA_FA=${LLAMA_FA:-0}
COLD=${COLD:-1}
TG_PAIRS=${TG_PAIRS:-5}
VOCAB_DIR=${VOCAB_DIR:-$ROOT/../shared/vocab}
MODELS=${MODELS:-"llama1b:q8_0 llama1b:q4_k_m qwen05b:q8_0 qwen05b:q4_k_m"}
MODEL_DIR=$ROOT/target/bench/models

if [ ! -x /usr/bin/time ]; then
    echo "engine.sh: installing GNU time" >&2
    apt-get install -y time >&2
fi

LLAMA_BENCH=$("$BENCH_DIR/llamacpp_build.sh")
cargo build --release -p switchyard >&2
cargo build --release -p switchyard-engine --example model_bench >&2
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
SWITCHYARD=$TARGET_DIR/release/switchyard
MODEL_BENCH=$TARGET_DIR/release/examples/model_bench

OUT=$ROOT/target/bench/engine-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT" "$MODEL_DIR"

# The model files (written once; random weights, so content does not matter for speed).
for m in $MODELS; do
    shape=${m%%:*}
    quant=${m##*:}
    file=$MODEL_DIR/$shape-$quant.gguf
    vocab=$VOCAB_DIR/ggml-vocab-llama-bpe.gguf
    [ "$shape" = qwen05b ] && vocab=$VOCAB_DIR/ggml-vocab-qwen2.gguf
    if [ ! -f "$file" ]; then
        "$MODEL_BENCH" write "$shape" "$quant" "$vocab" "$file.tmp"
        mv "$file.tmp" "$file"
    fi
    # Both engines must load it (one tiny untimed run each) before anything is measured.
    "$SWITCHYARD" bench --model "$file" -p 8 -n 1 -t "$THREADS" -r 1 --json >/dev/null ||
        { echo "engine.sh: switchyard cannot run $file" >&2; exit 1; }
    "$LLAMA_BENCH" -m "$file" -p 8 -n 1 -t "$THREADS" -r 1 -o json >/dev/null 2>"$OUT/$shape-$quant.loadcheck.log" ||
        { echo "engine.sh: llama.cpp cannot run $file (see $OUT/$shape-$quant.loadcheck.log)" >&2; exit 1; }
done

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty tree)')"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p')"
    echo "nproc: $(nproc)"
    echo "isa flags: $(grep -o -w -E 'avx2|avx512f|avx512bw|avx512vl|avx512_vnni|avx_vnni|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    echo "kernel: $(uname -r)"
    echo "llama-bench: $LLAMA_BENCH (llama-cpp-python ${LLAMA_CPP_PYTHON_VERSION:-0.3.16} sdist)"
    echo "threads: $THREADS reps: $REPS n_prompt: $N_PROMPT n_gen: $N_GEN llama_fa: $LLAMA_FA cold: $COLD tg_pairs: $TG_PAIRS"
    echo "transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
    echo "loadavg before: $(cat /proc/loadavg)"
} >"$OUT/machine.txt"

# One measured process: `run NAME CMD...` writes NAME.json (stdout), NAME.stderr, NAME.time
# (GNU time -v) and NAME.cpu (the machine's /proc/stat cpu line before and after).
run() {
    local name=$1
    shift
    head -1 /proc/stat >"$OUT/$name.cpu"
    echo "$*" >"$OUT/$name.cmd"
    /usr/bin/time -v -o "$OUT/$name.time" "$@" >"$OUT/$name.json" 2>"$OUT/$name.stderr"
    head -1 /proc/stat >>"$OUT/$name.cpu"
}

# Drops FILE's clean pages from the page cache (posix_fadvise DONTNEED) when COLD=1.
evict() {
    [ "$COLD" = 1 ] || return 0
    python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)' "$1"
}

i=0
for m in $MODELS; do
    shape=${m%%:*}
    quant=${m##*:}
    file=$MODEL_DIR/$shape-$quant.gguf
    ours=(run "$shape-$quant.ours" "$SWITCHYARD" bench --model "$file" -p "$N_PROMPT" -n "$N_GEN"
        -t "$THREADS" -r "$REPS" --json)
    llama=(run "$shape-$quant.llama" "$LLAMA_BENCH" -m "$file" -p "$N_PROMPT" -n "$N_GEN"
        -t "$THREADS" -r "$REPS" -o json -fa "$LLAMA_FA")
    if [ $((i % 2)) -eq 0 ]; then
        echo "$shape-$quant: ours first" | tee -a "$OUT/order.txt" >&2
        evict "$file"
        "${ours[@]}"
        evict "$file"
        "${llama[@]}"
    else
        echo "$shape-$quant: llama.cpp first" | tee -a "$OUT/order.txt" >&2
        evict "$file"
        "${llama[@]}"
        evict "$file"
        "${ours[@]}"
    fi
    for k in $(seq 1 "$TG_PAIRS"); do
        ours_tg=(run "$shape-$quant.pair$k.ours" "$SWITCHYARD" bench --model "$file" -p 0
            -n "$N_GEN" -t "$THREADS" -r 1 --json)
        llama_tg=(run "$shape-$quant.pair$k.llama" "$LLAMA_BENCH" -m "$file" -p 0 -n "$N_GEN"
            -t "$THREADS" -r 1 -o json -fa "$LLAMA_FA")
        if [ $(((i + k) % 2)) -eq 0 ]; then
            evict "$file"; "${ours_tg[@]}"; evict "$file"; "${llama_tg[@]}"
        else
            evict "$file"; "${llama_tg[@]}"; evict "$file"; "${ours_tg[@]}"
        fi
    done
    i=$((i + 1))
done
echo "loadavg after: $(cat /proc/loadavg)" >>"$OUT/machine.txt"

python3 "$BENCH_DIR/engine_summary.py" "$OUT" $MODELS | tee "$OUT/summary.md"
echo "engine.sh: raw outputs in $OUT" >&2
