#!/usr/bin/env bash
# Builds llama.cpp's `llama-bench` from the source vendored in the llama-cpp-python sdist on
# PyPI, once, under target/llamacpp/ (reused when present). Prints the binary's path.
#
# Environment: LLAMA_CPP_PYTHON_VERSION (default 0.3.16, as scripts/conformance/run.sh),
# BUILD_JOBS (default 2). Needs pip, cmake and a C++ compiler (apt-get install cmake g++).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.16}
BASE=$ROOT/target/llamacpp
SRC=$BASE/llama_cpp_python-$VERSION/vendor/llama.cpp
BUILD=$BASE/build-$VERSION
BIN=$BUILD/bin/llama-bench

if [ -x "$BIN" ]; then
    echo "$BIN"
    exit 0
fi
if ! command -v cmake >/dev/null; then
    echo "llamacpp_build.sh: installing cmake" >&2
    apt-get install -y cmake >&2
fi
mkdir -p "$BASE/sdist"
tarball=$BASE/sdist/llama_cpp_python-$VERSION.tar.gz
if [ ! -f "$tarball" ]; then
    pip download --no-binary :all: --no-deps "llama-cpp-python==$VERSION" -d "$BASE/sdist" >&2
fi
if [ ! -d "$SRC" ]; then
    tar -xzf "$tarball" -C "$BASE"
fi
[ -f "$SRC/CMakeLists.txt" ] || { echo "llamacpp_build.sh: no llama.cpp in $SRC" >&2; exit 1; }
cmake -S "$SRC" -B "$BUILD" -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >&2
cmake --build "$BUILD" --target llama-bench -j "${BUILD_JOBS:-2}" >&2
[ -x "$BIN" ] || { echo "llamacpp_build.sh: $BIN was not built" >&2; exit 1; }
echo "$BIN"
