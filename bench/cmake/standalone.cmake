# Lets bench/run.sh build the bench tools before the top-level CMakeLists.txt has
# `add_subdirectory(bench)`: passed as CMAKE_PROJECT_INCLUDE, it includes
# bench/CMakeLists.txt at the end of the top-level directory (deferred calls may
# not add subdirectories), unless the top level already added bench/.
function(_cairn_bench_add_late)
  if(NOT TARGET cairn_loadgen)
    include(${CMAKE_SOURCE_DIR}/bench/CMakeLists.txt)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _cairn_bench_add_late)
