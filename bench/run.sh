#!/usr/bin/env bash
# `make bench`: builds the Release binaries and the bench tools in build-release/
# (ccache makes rebuilds quick), then runs bench/bench.py, which starts a local
# cluster on 127.0.0.1, measures, and writes bench/results/<timestamp>.{json,md}
# and bench/results/latest.md.
#
# Usage: bench/run.sh [--quick] [--profile] [--skip PHASES] [--no-build] [bench.py flags]
#        make bench CAIRN_BENCH_ARGS="--quick"
#   --quick      smaller sizes and shorter phases (about 3 minutes); results go to
#                bench/results/tmp/ and latest.md is left alone
#   --profile    also `perf record` the daemons during one more large upload/download
#   --no-build   use build-release/bin as it is
# Env: CAIRN_BENCH_BUILD_DIR (default build-release), CAIRN_BENCH_DIR (where the
# run's data goes; default bench/results/tmp, on the same disk as the checkout).
#
# Every process the run starts is stopped at the end, on error and on Ctrl-C:
# bench.py stops its own; the EXIT trap here kills, by PID, any daemon bench.py
# recorded in the pidfile and left behind.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${CAIRN_BENCH_BUILD_DIR:-$repo/build-release}
build=1
args=()
# shellcheck disable=SC2206  # CAIRN_BENCH_ARGS is split into words on purpose
set -- ${CAIRN_BENCH_ARGS:-} "$@"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) build=0 ;;
    -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done

targets=(cairn_master cairn_chunkserver cairn_gateway
         cairn_bench_limits cairn_loadgen cairn_metabench cairn_master_mem)
if [[ $build -eq 1 ]]; then
  cmake_flags=(-S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
               -UCMAKE_PROJECT_INCLUDE)
  echo "[bench] building Release binaries in $build_dir" >&2
  cmake "${cmake_flags[@]}" >/dev/null
  cmake --build "$build_dir" --target "${targets[@]}"
fi
for b in cairn-master cairn-chunkserver cairn-gateway cairn-bench-limits cairn-loadgen \
         cairn-metabench cairn-master-mem; do
  if [[ ! -x "$build_dir/bin/$b" ]]; then
    echo "bench: $build_dir/bin/$b missing (build first)" >&2
    exit 1
  fi
done
if ! command -v curl >/dev/null; then
  echo "bench: curl is needed (scripts/install-deps.sh)" >&2
  exit 1
fi

mkdir -p "$repo/bench/results/tmp"
pidfile=$(mktemp "$repo/bench/results/tmp/pids.XXXXXX")
bench_pid=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [[ -n "$bench_pid" ]] && kill -0 "$bench_pid" 2>/dev/null; then
    kill -TERM "$bench_pid" 2>/dev/null || true
    wait "$bench_pid" 2>/dev/null || true
  fi
  # Daemons bench.py started and did not stop (it was killed, say). A PID is
  # only killed while it still runs one of our binaries.
  local pid exe
  while read -r pid; do
    [[ -n "$pid" ]] || continue
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
    if [[ "$exe" == "$build_dir"/bin/* ]]; then
      echo "[bench] stopping leftover daemon $pid ($exe)" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done <"$pidfile"
  rm -f "$pidfile"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

CAIRN_BENCH_PIDFILE=$pidfile python3 "$repo/bench/bench.py" --bin-dir "$build_dir/bin" \
  ${args[@]+"${args[@]}"} &
bench_pid=$!
wait "$bench_pid"
