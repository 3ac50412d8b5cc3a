#include "output.hpp"

#include <pecbatch/core/strings.hpp>

#include <iostream>

namespace pecbatch::cli {

namespace {

void print_lines(const char* prefix, const std::string& message) {
  for (const auto& line : core::split(message, '\n')) {
    std::cerr << "pecbatch: " << prefix << ": " << line << '\n';
  }
}

} // namespace

void print_error(const std::string& message) { print_lines("error", message); }

void print_warning(const std::string& message) { print_lines("warning", message); }

void print_diagnostics(const core::Diagnostics& diagnostics, bool as_warnings) {
  for (const auto& d : diagnostics) {
    print_lines(as_warnings ? "warning" : "error", d.to_string());
  }
}

} // namespace pecbatch::cli
