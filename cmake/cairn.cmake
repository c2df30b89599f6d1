# cairn_cc_library(NAME name SRCS ... DEPS ...) and cairn_cc_test(NAME name SRCS ... DEPS ...).
# Our own code builds with -Wall -Wextra -Werror; generated code and third-party headers do not.
# Designated initializers name only the fields that differ from their defaults
# ({.label = "/ui"}), which -Wextra's missing-field-initializers flags in g++ 12.
set(CAIRN_WARNINGS -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers)
# Clang checks the ABSL_GUARDED_BY / ABSL_*_LOCKS_REQUIRED annotations; g++ ignores them.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND CAIRN_WARNINGS -Wthread-safety -Wthread-safety-beta)
endif()

function(cairn_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(${ARG_NAME} STATIC ${ARG_SRCS})
  target_include_directories(${ARG_NAME} PUBLIC ${CMAKE_SOURCE_DIR}/src ${CMAKE_BINARY_DIR})
  target_compile_options(${ARG_NAME} PRIVATE ${CAIRN_WARNINGS})
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_DEPS})
endfunction()

function(cairn_cc_binary)
  cmake_parse_arguments(ARG "" "NAME;OUTPUT" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${CAIRN_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  if(ARG_OUTPUT)
    set_target_properties(${ARG_NAME} PROPERTIES OUTPUT_NAME ${ARG_OUTPUT})
  endif()
  if(TARGET cairn_tsan_sync)  # the TSan build (cmake/sanitizers.cmake)
    target_link_libraries(${ARG_NAME} PRIVATE cairn_tsan_sync)
  endif()
endfunction()

function(cairn_cc_test)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${CAIRN_WARNINGS})
  target_include_directories(${ARG_NAME} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  if(TARGET cairn_tsan_sync)
    target_link_libraries(${ARG_NAME} PRIVATE cairn_tsan_sync)
  endif()
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
endfunction()
