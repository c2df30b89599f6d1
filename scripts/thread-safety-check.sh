#!/usr/bin/env bash
# Builds the tree with clang, whose -Wthread-safety checks every ABSL_GUARDED_BY
# and ABSL_*_LOCKS_REQUIRED annotation (g++ ignores them); -Werror makes a
# finding fail the build. Build dir: build-clang (CAIRN_CLANG_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${CAIRN_CLANG_BUILD_DIR:-build-clang}
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja >/dev/null
# Libraries and tests; the thread-safety analysis runs in the compiler.
cmake --build "$dir"
echo "thread-safety-check: clean"
