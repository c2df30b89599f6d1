#!/usr/bin/env bash
# Upgrade in place: builds the daemons of the previous release (the commit in
# tests/upgrade/previous-release) from this clone's history, then runs
# tests/upgrade/test_upgrade.py, which writes a cluster with them and opens it
# with this tree's daemons.
#
# Usage: tests/upgrade/run.sh CURRENT_BIN_DIR
# Exit 77 (ctest: skipped) when the clone lacks the previous release's commit
# (a shallow clone); any other non-zero exit is a failure.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
current_bin=$1
prev=$(tr -d '[:space:]' < "$repo/tests/upgrade/previous-release")
if ! git -C "$repo" cat-file -e "$prev^{commit}" 2>/dev/null; then
  echo "upgrade: commit $prev (previous release) is not in this clone; skipped" >&2
  exit 77
fi
work=${CAIRN_UPGRADE_DIR:-$repo/build-upgrade}
src=$work/src-$prev
if [[ ! -f $src/CMakeLists.txt ]]; then
  rm -rf "$src"
  mkdir -p "$src"
  # The previous release's tree, without touching this clone's work tree or branches.
  git -C "$repo" archive "$prev" | tar -x -C "$src"
fi
# ccache: relative paths, so the old tree hits the cache of earlier builds.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$work}
cmake -S "$src" -B "$work/build-$prev" -G Ninja >/dev/null
cmake --build "$work/build-$prev" --target cairn_master cairn_chunkserver cairn_gateway
CAIRN_PREV_BIN_DIR=$work/build-$prev/bin CAIRN_BIN_DIR=$current_bin \
  exec /usr/bin/python3 -m pytest -q -p no:cacheprovider "$repo/tests/upgrade/test_upgrade.py"
