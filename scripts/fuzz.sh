#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) in the clang ASan+UBSan build that
# scripts/sanitize.sh makes (build-clang: one build for both) and runs each for
# FUZZ_SECONDS (default 60; make test: 20) from a copy of its seed corpus
# fuzz/corpus/<name> (the checked-in corpus is never written). Fails if any
# target finds a crash, a sanitizer report, a leak, a timeout or a broken
# invariant; its input is kept under FUZZ_ARTIFACTS (default
# <build dir>/fuzz-artifacts). doc/verification.md says what each target checks.
# Usage: scripts/fuzz.sh [name...]   (default: every fuzz/fuzz_<name>.cc)
# Env: FUZZ_SECONDS, FUZZ_JOBS (ninja -j), CAIRN_CLANG_BUILD_DIR (default build-clang).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${CAIRN_CLANG_BUILD_DIR:-build-clang}
seconds=${FUZZ_SECONDS:-60}
artifacts=${FUZZ_ARTIFACTS:-$dir/fuzz-artifacts}

# libFuzzer ships in compiler-rt, which Debian packages apart from clang.
if [[ ! -f "$(clang++ -print-runtime-dir)/libclang_rt.fuzzer-$(uname -m).a" ]]; then
  echo "fuzz: clang's libFuzzer runtime is missing (Debian: apt-get install libclang-rt-14-dev)" >&2
  exit 1
fi

# The same configuration as scripts/sanitize.sh, so the two share the tree.
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja \
  -DCAIRN_SANITIZER=address,undefined -DCAIRN_FUZZ=ON >/dev/null
cmake --build "$dir" --target cairn_fuzz ${FUZZ_JOBS:+-j "$FUZZ_JOBS"}

if [[ $# -eq 0 ]]; then
  set -- $(for f in fuzz/fuzz_*.cc; do basename "$f" .cc | sed 's/^fuzz_//'; done)
fi
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A report ends the run as a crash, which libFuzzer saves and fails on. Leaks
# are checked after each input that allocated more than it freed.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:print_summary=1}

failed=()
for name in "$@"; do
  corpus="$work/$name"
  mkdir -p "$corpus"
  cp -r "fuzz/corpus/$name/." "$corpus/"
  log="$work/$name.log"
  rc=0
  "$dir/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$name-" "$corpus" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
  if [[ $rc -eq 0 ]]; then
    printf 'fuzz_%s: ok, %s runs (%s/s), %s\n' "$name" "${runs:-?}" "${speed:-?}" "${cov:-cov: ?}"
  else
    failed+=("$name")
    printf 'fuzz_%s: FAILED (exit %d) after %s runs, %s; input in %s\n' "$name" "$rc" \
      "${runs:-?}" "${cov:-cov: ?}" "$artifacts/$name-*"
    grep -vE '^#[0-9]+' "$log" | tail -60 >&2
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: ${#failed[@]} target(s) found a problem: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all $# targets clean (${seconds}s each)"
