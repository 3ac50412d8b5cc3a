# `pecbatch_warnings`: the warning set of every project target; errors in dev
# mode (git checkouts and CI).

add_library(pecbatch_warnings INTERFACE)
target_compile_options(pecbatch_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wcast-align -Wformat=2 -Wimplicit-fallthrough
  $<$<BOOL:${PECBATCH_DEV_MODE}>:-Werror>)
