#pragma once

namespace pecbatch::cli {

// Parses the command line, runs the chosen subcommand and returns the
// process exit code (sysexits, see docs/exit-codes.md). The only place that
// catches exceptions.
int run(int argc, char** argv);

} // namespace pecbatch::cli
