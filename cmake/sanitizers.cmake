# Sanitizers and libFuzzer for the whole tree (doc/verification.md).
#
# CAIRN_SANITIZER: "address", "undefined", "address,undefined" or "thread". Every
# target (our code, the tests, the generated protobuf code) is compiled and linked
# with -fsanitize=<list>; UBSan findings are fatal (-fno-sanitize-recover). The
# Debian libraries (gRPC, RocksDB, Abseil, libstdc++) are not instrumented: ASan
# still sees what they allocate and copy through its interceptors, not their own
# loads and stores.
#
# CAIRN_FUZZ (clang only): also build the libFuzzer targets in fuzz/. The tree
# gets -fsanitize=fuzzer-no-link (coverage instrumentation, so the library code a
# target calls guides the fuzzer) and each target links -fsanitize=fuzzer. A
# fuzzer without sanitizers finds only crashes, so CAIRN_FUZZ defaults
# CAIRN_SANITIZER to address,undefined; one build then serves the sanitized tests
# and the fuzz targets (scripts/sanitize.sh).
set(CAIRN_SANITIZER "" CACHE STRING
    "Sanitizers for the whole tree: address, undefined, address,undefined or thread")
option(CAIRN_FUZZ "Build the libFuzzer targets in fuzz/ (clang only)" OFF)

set(CAIRN_FUZZ_ENABLED OFF)
if(CAIRN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CAIRN_FUZZ needs clang: CC=clang CXX=clang++ cmake ...")
  endif()
  if(CAIRN_SANITIZER STREQUAL "")
    set(CAIRN_SANITIZER "address,undefined" CACHE STRING
        "Sanitizers for the whole tree: address, undefined, address,undefined or thread" FORCE)
  endif()
  set(CAIRN_FUZZ_ENABLED ON)
endif()

if(NOT CAIRN_SANITIZER STREQUAL "")
  string(REPLACE "," ";" _cairn_sanitizers "${CAIRN_SANITIZER}")
  foreach(s ${_cairn_sanitizers})
    if(NOT s MATCHES "^(address|undefined|thread)$")
      message(FATAL_ERROR "CAIRN_SANITIZER: unknown sanitizer '${s}' (address, undefined, thread)")
    endif()
  endforeach()
  if("thread" IN_LIST _cairn_sanitizers AND "address" IN_LIST _cairn_sanitizers)
    message(FATAL_ERROR "CAIRN_SANITIZER: thread cannot be combined with address")
  endif()
  if(CAIRN_FUZZ_ENABLED AND "thread" IN_LIST _cairn_sanitizers)
    message(FATAL_ERROR "CAIRN_FUZZ runs under address and/or undefined, not thread")
  endif()
  set(_cairn_san_flags -fsanitize=${CAIRN_SANITIZER} -fno-omit-frame-pointer)
  if("undefined" IN_LIST _cairn_sanitizers)
    list(APPEND _cairn_san_flags -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${_cairn_san_flags})
  add_link_options(${_cairn_san_flags})
  message(STATUS "Sanitizers: ${CAIRN_SANITIZER}")
  if("thread" IN_LIST _cairn_sanitizers)
    # Debian's Abseil is not built with TSan: its Mutex gets the annotations
    # here, linked into every executable (cairn.cmake) and exported, so that
    # gRPC's and Abseil's own calls reach them too.
    add_library(cairn_tsan_sync OBJECT ${CMAKE_SOURCE_DIR}/tests/tsan/absl_sync_annotations.cc)
    target_link_libraries(cairn_tsan_sync PUBLIC absl::synchronization ${CMAKE_DL_LIBS})
    add_link_options(-Wl,--export-dynamic-symbol=_ZN4absl*5Mutex*
                     -Wl,--export-dynamic-symbol=_ZN4absl*7CondVar*)
  endif()
endif()

if(CAIRN_FUZZ_ENABLED)
  add_compile_options(-fsanitize=fuzzer-no-link)
  message(STATUS "libFuzzer targets: fuzz/ (target cairn_fuzz)")
endif()
