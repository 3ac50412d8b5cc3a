# Every third-party dependency, from Debian 12 packages installed by
# scripts/install-deps. Libraries without CMake or pkg-config files get an
# imported target here, so the rest of the build only names targets.

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(CURL REQUIRED)                  # CURL::libcurl
find_package(OpenSSL REQUIRED)               # OpenSSL::SSL OpenSSL::Crypto
find_package(CLI11 CONFIG REQUIRED)          # CLI11::CLI11
find_package(fmt CONFIG REQUIRED)            # fmt::fmt
find_package(spdlog CONFIG REQUIRED)         # spdlog::spdlog
find_package(SQLite3 REQUIRED)               # SQLite::SQLite3
find_package(pugixml CONFIG REQUIRED)        # pugixml::pugixml
find_package(nlohmann_json CONFIG REQUIRED)  # nlohmann_json::nlohmann_json
find_package(tomlplusplus CONFIG QUIET)
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
pkg_check_modules(GMIME REQUIRED IMPORTED_TARGET gmime-3.0)
pkg_check_modules(FREEXL REQUIRED IMPORTED_TARGET freexl)

if(NOT TARGET tomlplusplus::tomlplusplus)
  pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
  add_library(tomlplusplus::tomlplusplus ALIAS PkgConfig::TOMLPP)
endif()

# libcsv: no CMake config and no .pc file.
find_path(CSV_INCLUDE_DIR csv.h REQUIRED)
find_library(CSV_LIBRARY csv REQUIRED)
add_library(dep_libcsv UNKNOWN IMPORTED)
set_target_properties(dep_libcsv PROPERTIES
  IMPORTED_LOCATION "${CSV_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CSV_INCLUDE_DIR}")

# kainjow mustache: header only, no CMake or pkg-config file.
find_path(MUSTACHE_INCLUDE_DIR kainjow/mustache.hpp REQUIRED)
add_library(dep_mustache INTERFACE IMPORTED)
set_target_properties(dep_mustache PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${MUSTACHE_INCLUDE_DIR}")

if(PECBATCH_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)        # GTest::gtest_main GTest::gmock
endif()
if(PECBATCH_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)    # benchmark::benchmark
endif()
