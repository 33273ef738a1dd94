#!/usr/bin/env bash
# Conformance with llama.cpp: builds llama.cpp from the llama-cpp-python sdist on PyPI (once,
# into target/conformance-venv), writes the fixture GGUFs, compares tokenisation, greedy
# continuations, teacher-forced top-1 and logits (scripts/conformance/compare.py), and writes
# docs/conformance.md and crates/local/tests/goldens/conformance.json.
#
# Needs python3 (with venv), cmake and a C++ compiler (apt-get install cmake g++).
# Environment: LLAMA_CPP_PYTHON_VERSION (default 0.3.16), VOCAB_DIR (default ../shared/vocab).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.16}
VENV=target/conformance-venv
FIXTURES=target/conformance
VOCAB_DIR=${VOCAB_DIR:-$ROOT/../shared/vocab}
PY="$VENV/bin/python"

if ! "$PY" -c "import llama_cpp, numpy, sys; sys.exit(llama_cpp.__version__ != '$VERSION')" \
    2>/dev/null; then
    command -v cmake >/dev/null || { echo "run.sh: needs cmake (apt-get install cmake)" >&2; exit 2; }
    echo "run.sh: building llama-cpp-python $VERSION from its sdist (several minutes)" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    CMAKE_ARGS="-DGGML_NATIVE=ON" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
        "$VENV/bin/pip" install --no-binary llama-cpp-python "llama-cpp-python==$VERSION" numpy
fi

cargo build -p switchyard-local --examples
cargo build -p switchyard
BIN=$(cargo metadata --format-version 1 --no-deps | "$PY" -c \
    'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug

mkdir -p "$FIXTURES"
for arch in llama qwen2; do
    vocab="$VOCAB_DIR/ggml-vocab-llama-bpe.gguf"
    [ "$arch" = qwen2 ] && vocab="$VOCAB_DIR/ggml-vocab-qwen2.gguf"
    for type in f32 f16 q8_0 q4_k_m; do
        "$BIN/examples/write_fixture" --arch "$arch" --type "$type" --vocab "$vocab" \
            --out "$FIXTURES/$arch-$type.gguf"
    done
done

"$PY" scripts/conformance/compare.py \
    --switchyard "$BIN/switchyard" \
    --teacher-forced "$BIN/examples/teacher_forced" \
    --fixtures "$FIXTURES" \
    --vocab "$VOCAB_DIR" \
    --doc docs/conformance.md \
    --goldens crates/local/tests/goldens/conformance.json \
    > "$FIXTURES/summary.json"
status=$?
echo "run.sh: summary in $FIXTURES/summary.json, report in docs/conformance.md" >&2
exit $status
