# Language level, build options and the `pecbatch_settings` interface target
# that every project target links.

set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()

# Dev mode (warnings are errors) is on in a git checkout and in CI.
if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/.git" OR DEFINED ENV{CI})
  set(_pecbatch_dev_default ON)
else()
  set(_pecbatch_dev_default OFF)
endif()
option(PECBATCH_DEV_MODE "Treat warnings as errors" ${_pecbatch_dev_default})
option(PECBATCH_BUILD_TESTS "Build the test suite" ON)
option(PECBATCH_BUILD_BENCH "Build the benchmarks" ON)
set(PECBATCH_SANITIZE "" CACHE STRING
    "Comma-separated sanitizers to build with, e.g. address,undefined")

add_library(pecbatch_settings INTERFACE)
target_compile_features(pecbatch_settings INTERFACE cxx_std_20)
target_compile_definitions(pecbatch_settings INTERFACE
  PECBATCH_VERSION="${PROJECT_VERSION}"
  $<$<CONFIG:Debug>:_GLIBCXX_ASSERTIONS>)

if(PECBATCH_SANITIZE)
  string(REPLACE "," ";" _sanitizers "${PECBATCH_SANITIZE}")
  foreach(_s IN LISTS _sanitizers)
    target_compile_options(pecbatch_settings INTERFACE -fsanitize=${_s})
    target_link_options(pecbatch_settings INTERFACE -fsanitize=${_s})
  endforeach()
  target_compile_options(pecbatch_settings INTERFACE
    -fno-omit-frame-pointer -fno-sanitize-recover=all)
endif()
