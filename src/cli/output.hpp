#pragma once

#include <pecbatch/core/diagnostic.hpp>

#include <string>

namespace pecbatch::cli {

// Prints each line of `message` to stderr as `pecbatch: error: LINE`.
void print_error(const std::string& message);
// Prints each line of `message` to stderr as `pecbatch: warning: LINE`.
void print_warning(const std::string& message);
// Prints every diagnostic as an error (or warning) line.
void print_diagnostics(const core::Diagnostics& diagnostics, bool as_warnings = false);

} // namespace pecbatch::cli
