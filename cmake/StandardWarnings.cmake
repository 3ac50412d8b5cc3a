# `pecbatch_warnings`: the warning set of every project target; errors in dev
# mode (git checkouts and CI).
#
# GCC 12 at -O3 reports impossible overlaps (-Wrestrict) inside libstdc++'s
# std::string when strings are concatenated with `+` (GCC bug 105329, fixed
# in GCC 13): the warning is false there and everywhere else it fires in
# this code base, so it is off for GCC < 13 rather than an error that breaks
# Release builds (the demo's, the .deb's) but not -O2 ones.

add_library(pecbatch_warnings INTERFACE)
target_compile_options(pecbatch_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wcast-align -Wformat=2 -Wimplicit-fallthrough
  $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>
  $<$<BOOL:${PECBATCH_DEV_MODE}>:-Werror>)
