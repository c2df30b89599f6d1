#!/usr/bin/env bash
# Fails if a tracked C++ file does not conform to .clang-format (Google style,
# 100 columns). Fix with: git ls-files '*.cc' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror
echo "format-check: clean"
