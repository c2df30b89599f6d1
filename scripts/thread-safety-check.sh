#!/usr/bin/env bash
# Builds the tree with clang, whose -Wthread-safety checks every ABSL_GUARDED_BY
# and ABSL_*_LOCKS_REQUIRED annotation (g++ ignores them); -Werror makes a
# finding fail the build. The build is scripts/sanitize.sh's (build-clang,
# CAIRN_CLANG_BUILD_DIR: ASan+UBSan and the fuzz targets too), without its
# tests; make test runs scripts/sanitize.sh itself.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/sanitize.sh build
echo "thread-safety-check: clean"
