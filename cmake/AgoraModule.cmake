# Helpers that give every module the same shape: folder = target `agora_<name>`
# = alias `agora::<name>`, unit tests `<file>.test.cpp` beside the sources in
# one test binary, each test its own CTest entry.
include(GoogleTest)

# agora_add_module(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...]
#                  [TESTS ...] [TEST_DEPS ...] [INCLUDE_DIR dir])
function(agora_add_module name)
  cmake_parse_arguments(ARG "" "INCLUDE_DIR"
    "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS;TESTS;TEST_DEPS" ${ARGN})
  if(NOT ARG_INCLUDE_DIR)
    set(ARG_INCLUDE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  add_library(agora_${name} STATIC ${ARG_SOURCES})
  add_library(agora::${name} ALIAS agora_${name})
  target_include_directories(agora_${name} PUBLIC ${ARG_INCLUDE_DIR})
  target_compile_features(agora_${name} PUBLIC cxx_std_17)
  target_link_libraries(agora_${name}
    PUBLIC ${ARG_PUBLIC_DEPS}
    PRIVATE agora_warnings ${ARG_PRIVATE_DEPS})
  if(ARG_TESTS AND AGORA_BUILD_TESTS)
    agora_add_test(${name}_test SOURCES ${ARG_TESTS}
                   DEPS agora::${name} ${ARG_TEST_DEPS})
  endif()
endfunction()

# agora_add_test(<name> SOURCES ... [DEPS ...]): a GoogleTest binary whose
# tests are discovered into CTest. Every master a test starts checks each
# incremental /state snapshot against one rendered from scratch
# (AGORA_VERIFY_STATE_VIEW, see actors/master/agora/master/state_view.hpp).
function(agora_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PROPERTIES" ${ARGN})
  add_executable(agora_${name} ${ARG_SOURCES})
  target_link_libraries(agora_${name} PRIVATE ${ARG_DEPS} agora_warnings
                        GTest::gtest GTest::gtest_main GTest::gmock)
  gtest_discover_tests(agora_${name}
    DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT 300 ENVIRONMENT AGORA_VERIFY_STATE_VIEW=1 ${ARG_PROPERTIES})
endfunction()
