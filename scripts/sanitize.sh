#!/usr/bin/env bash
# The sanitized clang builds (doc/verification.md).
#
#   scripts/sanitize.sh [address]   build-clang: clang with -Wthread-safety -Werror (the
#                                   lock annotations), ASan + UBSan over the whole tree and
#                                   the libFuzzer targets; then the unit and in-process
#                                   cluster tests under ASan + UBSan. scripts/fuzz.sh runs
#                                   the fuzz targets of this same build.
#   scripts/sanitize.sh build       the same build, no tests (scripts/thread-safety-check.sh)
#   scripts/sanitize.sh thread      build-tsan: the concurrency-heavy test binaries under
#                                   TSan, run (make tsan; make test runs it too)
#
# Any sanitizer report fails the test that raised it, and so the run.
# Env: CAIRN_CLANG_BUILD_DIR (build-clang), CAIRN_TSAN_BUILD_DIR (build-tsan),
# SANITIZE_JOBS (ninja -j and ctest -j; default: ninja's own and 2).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-address}
jobs=${SANITIZE_JOBS:-}

# Every report stops the process with a non-zero exit; nothing is left to a log.
# detect_leaks: LeakSanitizer at exit. detect_stack_use_after_return: stack
# frames outlive no reference to them. check_initialization_order: no static
# initializer reads another translation unit's global before it is initialized.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:print_summary=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp:print_suppressions=0}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp:print_suppressions=0}

have_runtime() {
  [[ -f "$(clang++ -print-runtime-dir)/libclang_rt.$1-$(uname -m).a" ]] || {
    echo "sanitize: clang's $1 runtime is missing (Debian: apt-get install libclang-rt-14-dev)" >&2
    exit 1
  }
}

case $mode in
  address | build)
    have_runtime asan
    have_runtime fuzzer
    dir=${CAIRN_CLANG_BUILD_DIR:-build-clang}
    start=$SECONDS
    CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja \
      -DCAIRN_SANITIZER=address,undefined -DCAIRN_FUZZ=ON >/dev/null
    # Everything, the fuzz targets included; -Wthread-safety runs in the compiler.
    cmake --build "$dir" ${jobs:+-j "$jobs"}
    echo "sanitize: clang build (thread-safety, ASan+UBSan, fuzz targets) in $((SECONDS - start))s"
    [[ $mode == build ]] && exit 0
    start=$SECONDS
    # The unit tests, the in-process cluster tests and the CLI against the fake
    # gateway. Left out: the integration modules (real daemons under pytest: their
    # run time grows with ASan's slowdown past the timeouts on two cores), the
    # Docker e2e and the upgrade test; the g++ build runs those.
    ctest --test-dir "$dir" -LE 'integration|docker|upgrade|slow' -j "${jobs:-2}" \
      --output-on-failure
    echo "sanitize: ASan+UBSan tests in $((SECONDS - start))s"
    ;;
  thread)
    have_runtime tsan
    dir=${CAIRN_TSAN_BUILD_DIR:-build-tsan}
    # The tests whose threads share state: the master's RPC handlers and
    # background loops, the chunkserver's write pipeline and heartbeats, the
    # gateway's uploader and group commit of small files, the whole
    # in-process cluster.
    tests=(master_test write_pipeline_test heartbeat_test repair_worker_test uploader_test
           pack_writer_test compactor_test downloader_test rate_limiter_test cluster_test)
    start=$SECONDS
    CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCAIRN_SANITIZER=thread >/dev/null
    cmake --build "$dir" --target "${tests[@]}" ${jobs:+-j "$jobs"}
    echo "sanitize: TSan build in $((SECONDS - start))s"
    start=$SECONDS
    regex="^($(IFS='|'; echo "${tests[*]}"))\$"
    ctest --test-dir "$dir" -R "$regex" -j "${jobs:-2}" --output-on-failure
    echo "sanitize: TSan tests in $((SECONDS - start))s"
    ;;
  *)
    echo "usage: scripts/sanitize.sh [address|build|thread]" >&2
    exit 2
    ;;
esac
